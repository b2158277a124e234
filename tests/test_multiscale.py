"""Multi-scale testing: input sizes, the band each scale is trusted for, the merge."""

from __future__ import annotations

import math

import pytest
import torch

from mcn.multiscale import (
    check_band,
    check_scales,
    keep_in_band,
    merge_detections,
    scaled_input_sizes,
)


def test_input_sizes_round_to_the_network_multiple():
    assert scaled_input_sizes(256, (0.5, 1, 1.25), 64) == [128, 256, 320]
    assert scaled_input_sizes(512, (0.75, 1.1), 64) == [384, 576]
    with pytest.raises(ValueError, match="below the smallest input"):
        scaled_input_sizes(256, (0.1,), 64)
    with pytest.raises(ValueError, match="repeated input sizes"):
        scaled_input_sizes(256, (1.0, 1.02), 64)


@pytest.mark.parametrize("scales, message", [((), "at least one"), ((1, -0.5), "positive"),
                                             ((1, math.nan), "positive"), ((1, 1), "repeat"),
                                             (("big",), "numbers")])
def test_bad_scales_are_named(scales, message):
    with pytest.raises(ValueError, match=message):
        check_scales(scales)


def test_bad_bands_are_named():
    assert check_band(None) is None and check_band([8, 48]) == (8.0, 48.0)
    for band in ((48, 8), (-1, 8), (8,)):
        with pytest.raises(ValueError, match="scale band"):
            check_band(band)


def test_each_scale_keeps_the_sizes_of_its_band():
    # Long sides 10, 30 and 60 original pixels are 5, 15 and 30 input pixels at scale 0.5.
    boxes = torch.tensor([[0, 0, 10, 4], [0, 0, 30, 30], [5, 5, 20, 65]], dtype=torch.float32)
    found = {"boxes": boxes, "scores": torch.tensor([0.9, 0.8, 0.7]),
             "labels": torch.tensor([0, 1, 2])}

    def kept(**where):
        return keep_in_band(found, 0.5, (8, 20), **where)["scores"].tolist()

    assert kept(smallest=False, largest=False) == pytest.approx([0.8])
    assert kept(smallest=True, largest=False) == pytest.approx([0.8, 0.7])  # and larger
    assert kept(smallest=False, largest=True) == pytest.approx([0.9, 0.8])  # and smaller
    assert kept(smallest=True, largest=True) == pytest.approx([0.9, 0.8, 0.7])


def test_merge_suppresses_a_duplicate_of_the_same_class_only():
    box = torch.tensor([[10.0, 10.0, 30.0, 30.0]])
    one = {"boxes": box, "scores": torch.tensor([0.8]), "labels": torch.tensor([3])}
    same = {"boxes": box.clone(), "scores": torch.tensor([0.6]), "labels": torch.tensor([3])}
    other = {"boxes": box.clone(), "scores": torch.tensor([0.5]), "labels": torch.tensor([4])}
    merged = merge_detections([one, same, other], sigma=0.5)
    # IoU 1 within class 3: 0.6 * exp(-1 / 0.5); class 4 is untouched.
    assert merged["scores"].tolist() == pytest.approx([0.8, 0.5, 0.6 * math.exp(-2)])
    assert merged["labels"].tolist() == [3, 4, 3]
    assert len(merge_detections([one, same, other], max_dets=2)["scores"]) == 2
