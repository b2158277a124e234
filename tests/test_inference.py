"""Inference: a dataset or an image through a stand-in network, at one input size or
several merged; the mask mapped back to the image."""

from __future__ import annotations

import pytest
import torch

from mcn.data.synthetic import SyntheticSigns
from mcn.inference import detect_by_size, detect_dataset, predict_image
from mcn.models import build_model


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


def test_predict_image_maps_the_mask_back_to_the_image_and_detect_by_size_keeps_sizes_apart():
    torch.manual_seed(0)
    model = build_model("mask-cornernet", num_classes=3, preset="tiny").eval()
    image = torch.randint(0, 256, (3, 100, 160), dtype=torch.uint8)
    found = predict_image(model, image, 128)
    assert found["mask"].shape == (100, 160) and found["mask"].dtype == torch.int64
    assert 0 <= int(found["mask"].min()) and int(found["mask"].max()) <= 3
    scenes = SyntheticSigns(2, 128, seed=3, classes=["pn", "pne", "i5"])
    per_size, metas, truth = detect_by_size(model, scenes, [64, 128], soft_nms=False)
    assert [len(found) for found in per_size] == [2, 2] and len(truth) == 2
    assert [meta["scale"] for meta in (metas[0][0], metas[1][0])] == [0.5, 1.0]
