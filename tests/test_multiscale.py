"""Multi-scale testing: input sizes, the size band of each scale, the merge."""

from __future__ import annotations

import math

import pytest
import torch

from mcn.data.synthetic import SyntheticSigns
from mcn.multiscale import (check_band, check_scales, keep_in_band, merge_detections,
                            scaled_input_sizes)
from mcn.inference import detect_dataset, predict_image


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


class _Stub(torch.nn.Module):
    """Stands in for a model: only ``stride`` and ``input_multiple`` are read."""

    stride, input_multiple = 4, 64


def _one_box_at_any_size(num_classes: int):
    """A forward pass that finds one class-0 box from input pixel (8, 8) to (40, 40)
    (32 input pixels wide) whatever the input size."""
    def forward(images: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, _, height, width = images.shape
        h, w = height // 4, width // 4
        out = {}
        # Background corners get embeddings 5 (TL) and -5 (BR): no pair with them passes
        # the decoder's embedding test, so the one box is all there is.
        for corner, cell, background in (("tl", 2, 5.0), ("br", 10, -5.0)):
            heat = torch.full((batch, num_classes, h, w), -10.0)
            heat[:, 0, cell, cell] = 2.0
            emb = torch.full((batch, 1, h, w), background)
            emb[:, 0, cell, cell] = 0.0
            out[f"{corner}_heat"] = heat
            out[f"{corner}_emb"] = emb
            out[f"{corner}_off"] = torch.zeros(batch, 2, h, w)
        return out
    return forward


def _boxes(results) -> list[list[float]]:
    (image,) = results["imgs"].values()
    return [[round(o["bbox"][k], 3) for k in ("xmin", "ymin", "xmax", "ymax")]
            for o in image["objects"]]


@pytest.mark.parametrize("band, expected", [
    # The 128 input (scale 1) sees the box 32 px wide, the 256 input (scale 2) too:
    # as 32 and 16 original pixels. Band (8, 24): only the smallest input keeps it.
    ((8, 24), [[8, 8, 40, 40]]),
    # Band (8, 40): both keep theirs.
    ((8, 40), [[8, 8, 40, 40], [4, 4, 20, 20]]),
    (None, [[8, 8, 40, 40], [4, 4, 20, 20]]),
])
def test_detect_dataset_merges_the_scales_through_the_band(band, expected):
    scenes = SyntheticSigns(1, 128, seed=3, classes=["pn", "pne", "i5"])
    forward = _one_box_at_any_size(len(scenes.classes))
    results, gt = detect_dataset(_Stub(), scenes, scenes.classes, 128, forward=forward,
                                 scales=(1.0, 2.0), scale_band=band)
    assert sorted(_boxes(results)) == sorted(expected)
    assert list(gt["imgs"]) == list(results["imgs"])
    single, _ = detect_dataset(_Stub(), scenes, scenes.classes, 128, forward=forward)
    assert _boxes(single) == [[8, 8, 40, 40]]


def test_a_band_without_scales_is_refused():
    scenes = SyntheticSigns(1, 128, seed=3, classes=["pn", "pne", "i5"])
    with pytest.raises(ValueError, match="needs multi-scale testing"):
        detect_dataset(_Stub(), scenes, scenes.classes, 128, scale_band=(8, 48),
                       forward=_one_box_at_any_size(3))


class _OneBoxModel(_Stub):
    """A model whose forward pass is ``_one_box_at_any_size`` (no mask module)."""

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return _one_box_at_any_size(3)(images)


@pytest.mark.parametrize("band, expected", [((8, 24), [[8, 8, 40, 40]]),
                                            ((8, 40), [[4, 4, 20, 20], [8, 8, 40, 40]])])
def test_predict_image_merges_the_scales_like_detect_dataset(band, expected):
    image = torch.zeros(3, 128, 128, dtype=torch.uint8)
    found = predict_image(_OneBoxModel(), image, 128, scales=(1.0, 2.0), scale_band=band)
    assert sorted(found["boxes"].tolist()) == expected and found["mask"] is None
    single = predict_image(_OneBoxModel(), image, 128)
    assert single["boxes"].tolist() == [[8, 8, 40, 40]]
    with pytest.raises(ValueError, match="needs multi-scale testing"):
        predict_image(_OneBoxModel(), image, 128, scale_band=band)
