"""The corner-pooling view: hand-made features and corner_pool of the region."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcn import viz as W
from mcn.nn import corner_pool
from tests.viz.views import SIZE


# --------------------------------------------------------------------------- corner pooling
def test_region_feature_by_hand():
    image = np.array([[[200, 50, 100], [10, 20, 250]]], dtype=np.uint8)  # (1, 2, 3)
    np.testing.assert_allclose(W.region_feature(image, None, "redness"), [[100 / 255, 0]],
                               rtol=1e-6)
    np.testing.assert_allclose(W.region_feature(image, None, "blueness"), [[0, 230 / 255]],
                               rtol=1e-6)
    np.testing.assert_allclose(W.region_feature(image, None, "brightness"),
                               [[350 / 765, 280 / 765]], rtol=1e-6)
    masks = torch.tensor([[[True, False]], [[False, False]]])
    np.testing.assert_array_equal(W.region_feature(image, masks, "sign masks"), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="feature"):
        W.region_feature(image, None, "greenness")


def test_pooled_maps_are_corner_pool_of_the_region(dataset):
    image, target = dataset[0]
    picture = image.permute(1, 2, 0).numpy()
    data = W.pool_data(picture, target, x=20, y=30, size=50, feature="brightness")
    assert data["window"] == (20, 30, 70, 80)
    region = torch.from_numpy(picture[30:80, 20:70].astype(np.float32) / 255).mean(dim=2)
    np.testing.assert_allclose(data["feature"], region.numpy(), rtol=1e-6)
    for direction in ("top", "left", "bottom", "right"):
        np.testing.assert_array_equal(data["pooled"][direction],
                                      corner_pool(region, direction).numpy())
    # top: the maximum of the column from this row down, by hand at one position
    assert data["pooled"]["top"][10, 4] == pytest.approx(float(region[10:, 4].max()))
    np.testing.assert_allclose(data["pooled"]["top + left"],
                               data["pooled"]["top"] + data["pooled"]["left"])
    np.testing.assert_allclose(data["pooled"]["bottom + right"],
                               data["pooled"]["bottom"] + data["pooled"]["right"])
    np.testing.assert_allclose(data["boxes"], target["boxes"].numpy() - [20, 30, 20, 30])
    clipped = W.pool_data(picture, target, x=SIZE - 10, y=SIZE - 4, size=50, feature="redness")
    assert clipped["window"] == (SIZE - 10, SIZE - 4, SIZE, SIZE)
    assert clipped["feature"].shape == (4, 10)


# --------------------------------------------------------------------------- a trained model
def test_trained_pool_data_pools_the_modules_own_branches(model, run):
    stack = 1
    data = W.trained_pool_data(model, run, stack, "tl", channel=3)
    pool = model.tl_pools[stack]
    with torch.no_grad():
        first = pool.branch_1(run.pool_inputs[stack])[0, 3]
        second = pool.branch_2(run.pool_inputs[stack])[0, 3]
    assert list(data["before"]) == ["top", "left"]
    np.testing.assert_allclose(data["before"]["top"], first.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data["before"]["left"], second.numpy(), rtol=1e-5, atol=1e-6)
    # top pool by hand: the maximum of the column from this row down
    i, j = 5, 7
    assert data["after"]["top"][i, j] == pytest.approx(float(first[i:, j].max()), abs=1e-6)
    assert data["after"]["left"][i, j] == pytest.approx(float(second[i, j:].max()), abs=1e-6)
    np.testing.assert_allclose(data["summed"], data["after"]["top"] + data["after"]["left"])
    # the corner is the largest sign's TL cell, and the profiles run through it
    boxes = run.target["boxes"]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    x1, y1 = boxes[int(areas.argmax())][:2].tolist()
    column, row = data["cell"]
    assert (column, row) == (int(x1 // model.stride), int(y1 // model.stride))
    before, after = data["profiles"]["top"]
    np.testing.assert_array_equal(before, data["before"]["top"][:, column])
    np.testing.assert_array_equal(after, data["after"]["top"][:, column])
    before, after = data["profiles"]["left"]
    np.testing.assert_array_equal(after, data["after"]["left"][row, :])


def test_trained_pool_data_br_and_the_strongest_channel(model, run):
    data = W.trained_pool_data(model, run, 0, "br")
    assert list(data["before"]) == ["bottom", "right"]
    column, row = data["cell"]
    # the default channel is the one whose pooled sum stands out most at the corner
    contrast = []
    channels = model.br_pools[0].branch_1[0].out_channels
    for c in range(channels):
        summed = W.trained_pool_data(model, run, 0, "br", channel=c)["summed"]
        contrast.append(summed[row, column] - np.median(summed))
    assert data["channel"] == int(np.argmax(contrast))
    with pytest.raises(ValueError, match="channel"):
        W.trained_pool_data(model, run, 0, "br", channel=channels)
    with pytest.raises(ValueError, match="corner"):
        W.trained_pool_data(model, run, 0, "tr")
    with pytest.raises(ValueError, match="stack"):
        W.trained_pool_data(model, run, 2, "tl")


def test_trained_pool_figure_draws_the_maps_and_profiles(model, run):
    data = W.trained_pool_data(model, run, 1, "tl", channel=2)
    fig = W.trained_pool_figure(data)
    titles = [ax.get_title() for ax in fig.axes]
    assert "branch 1, after the top pool" in titles and "branch 2, before the left pool" in titles
    after = next(ax for ax in fig.axes if ax.get_title() == "branch 1, after the top pool")
    np.testing.assert_array_equal(after.images[0].get_array(), data["after"]["top"])
    profile = next(ax for ax in fig.axes if ax.get_title() == "top pool along the corner's column")
    np.testing.assert_array_equal(profile.lines[1].get_ydata(), data["profiles"]["top"][1])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0] == "ground-truth boxes" and "top-left corner" in labels[1]
