"""The heatmap view: the selected channel, and exactly the decoder's peaks above the
threshold."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mcn import viz as W
from mcn.corners import top_corners
from tests.viz.views import STRIDE, fake_run, random_outputs, sigmoid


# --------------------------------------------------------------------------- heatmaps
@pytest.mark.parametrize("corner", ["tl", "br"])
def test_heatmap_overlay_is_the_selected_channel(corner):
    outputs = random_outputs()
    run = fake_run(outputs)
    for c in range(3):
        data = W.heatmap_data(run, 0, corner, c, threshold=0.5)
        expected = [[sigmoid(float(outputs[f"{corner}_heat"][0, c, i, j])) for j in range(8)]
                    for i in range(8)]
        np.testing.assert_allclose(data["heat"], expected, rtol=1e-5)
    every = W.heatmap_data(run, 0, corner, W.ALL_CLASSES, threshold=0.5)["heat"]
    np.testing.assert_allclose(every, torch.sigmoid(outputs[f"{corner}_heat"][0]).amax(0).numpy())


def naive_peaks(heat, emb, off, k):
    """Top-k 3x3 local maxima over all classes, found with loops: (score, class, x, y)."""
    num_classes, height, width = heat.shape
    peaks = []
    for c, i, j in itertools.product(range(num_classes), range(height), range(width)):
        window = [float(heat[c, a, b]) for a in range(max(i - 1, 0), min(i + 2, height))
                  for b in range(max(j - 1, 0), min(j + 2, width))]
        if float(heat[c, i, j]) >= max(window):
            x = (j + float(off[0, i, j])) * STRIDE
            y = (i + float(off[1, i, j])) * STRIDE
            peaks.append((sigmoid(float(heat[c, i, j])), c, x, y))
    return sorted(peaks, reverse=True)[:k]


@pytest.mark.parametrize("class_index", [W.ALL_CLASSES, 0, 2])
def test_heatmap_corners_are_the_decoders_peaks_above_the_threshold(class_index):
    outputs = random_outputs(seed=3)
    threshold, k = 0.6, 12
    data = W.heatmap_data(fake_run(outputs), 0, "br", class_index, threshold, k, STRIDE)
    expected = [p for p in naive_peaks(outputs["br_heat"][0], None, outputs["br_off"][0], k)
                if p[0] >= threshold and class_index in (W.ALL_CLASSES, p[1])]
    corners = data["corners"]
    got = sorted(zip(corners["scores"], corners["labels"], corners["xs"], corners["ys"]),
                 reverse=True)
    assert len(got) == len(expected) > 0
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(expected), rtol=1e-5)
    # ... and they are exactly top_corners' corners of that class above the threshold.
    tc = top_corners(outputs["br_heat"], outputs["br_emb"], outputs["br_off"], k, STRIDE)
    keep = tc["scores"][0] >= threshold
    if class_index != W.ALL_CLASSES:
        keep &= tc["labels"][0] == class_index
    np.testing.assert_array_equal(corners["xs"], tc["xs"][0][keep].numpy())


def test_heatmap_data_rejects_bad_arguments():
    run = fake_run(random_outputs())
    with pytest.raises(ValueError, match="corner"):
        W.heatmap_data(run, 0, "tr", 0, 0.5)
    with pytest.raises(ValueError, match="class_index"):
        W.heatmap_data(run, 0, "tl", 3, 0.5)
    with pytest.raises(ValueError, match="stack"):
        W.heatmap_data(run, 1, "tl", 0, 0.5)


def test_heatmap_figure_says_what_its_marks_are():
    outputs = random_outputs(seed=3)
    data = W.heatmap_data(fake_run(outputs), 0, "br", W.ALL_CLASSES, 0.6, 12, STRIDE)
    fig = W.heatmap_figure(data)
    left, right = fig.axes[:2]
    corners = [line for line in left.lines if line.get_marker() == "x"]
    np.testing.assert_allclose(corners[0].get_xdata(), data["corners"]["xs"])
    assert left.get_title().startswith(f"{len(data['corners']['xs'])} corners with score >= 0.600")
    np.testing.assert_allclose(right.images[0].get_array(), data["heat"])
    assert fig.axes[2].get_ylabel() == "P(bottom-right corner)"        # the colour bar
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["bottom-right corners the decoder picks", "ground-truth boxes"]


def test_heatmap_overlay_opacity_follows_the_probability():
    outputs = random_outputs(seed=3)
    outputs["tl_heat"][0, 0] = -10.0
    outputs["tl_heat"][0, 0, 2, 3] = 0.0                   # probability 0.5 in one cell
    data = W.heatmap_data(fake_run(outputs), 0, "tl", 0, 0.9)
    tint = W.heatmap_figure(data).axes[0].images[1].get_array()
    assert tint[2, 3, 3] == pytest.approx(0.9)               # full from 0.5 on
    assert tint[0, 0, 3] < 0.01                              # nearly clear where p ~ 0
