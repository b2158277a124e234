"""Augmentation and input preparation: boxes stay the masks' extents, meta maps back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcn.data.geometry import LetterboxMeta
from mcn.data.rng import item_rng
from mcn.data.transforms import (
    MEAN,
    STD,
    HorizontalFlip,
    Letterbox,
    PadToMultiple,
    RandomCrop,
    TransformedDataset,
    denormalize,
    eval_transform,
    normalize,
    train_transform,
)
from tests.data.drawn_scene import COLOURS, check_consistent, naive_boxes, scene


def test_letterbox_meta_by_hand_and_boxes_map_back():
    image, target = scene()  # 120 x 160 -> 64 x 64: scale 0.4, content 48 x 64, pad top 8
    out, t = Letterbox(64)(image, target)
    assert out.shape == (3, 64, 64) and out.dtype == torch.uint8
    assert t["meta"] == {"scale": 0.4, "pad": (0.0, 8.0), "orig_size": (120, 160)}
    check_consistent(out, t)
    assert out[:, :7].max() == 0 and out[:, 57:].max() == 0  # the black bands
    back = LetterboxMeta.from_dict(t["meta"]).boxes_to_original(t["boxes"])
    # A pixel of the input covers 1 / scale = 2.5 original pixels.
    assert (back - target["boxes"]).abs().max() <= 2.5
    # Ignore regions are mapped exactly: 0.4 * (130, 5, 150, 25) + (0, 8).
    assert torch.allclose(t["ignore_boxes"], torch.tensor([[52.0, 10.0, 60.0, 18.0]]))


def test_letterbox_upscale_and_non_square():
    image = torch.full((3, 30, 40), 10, dtype=torch.uint8)
    masks = torch.zeros(2, 30, 40, dtype=torch.bool)
    masks[0, 4:12, 5:15] = True
    masks[1, 20:29, 30:33] = True
    for mask, colour in zip(masks, COLOURS):
        image[:, mask] = torch.tensor(colour, dtype=torch.uint8)[:, None]
    target = {"boxes": torch.tensor([[5.0, 4, 15, 12], [30, 20, 33, 29]]),
              "labels": torch.tensor([0, 1]), "masks": masks, "image_id": 0}
    out, t = Letterbox((90, 100))(image, target)  # scale min(3, 2.5) = 2.5; 75 rows: pad 7
    assert t["meta"]["scale"] == 2.5 and t["meta"]["pad"] == (0.0, 7.0)
    check_consistent(out, t)
    # Integer boxes scale exactly when the scale is 2.5 and the pad whole.
    expected = torch.tensor([[12.5, 17, 37.5, 37], [75, 57, 82.5, 79.5]])
    assert (t["boxes"] - expected).abs().max() <= 0.5


@pytest.mark.parametrize("seed", range(8))
def test_random_crop_keeps_boxes_tight_and_meta_consistent(seed):
    image, target = scene()
    out, t = RandomCrop(96, border=16)(image, target, rng=np.random.default_rng(seed))
    assert out.shape == (3, 96, 96)
    check_consistent(out, t)
    assert 1 / 1.3 <= t["meta"]["scale"] <= 1 / 0.6
    # Whole objects that stay inside the crop map back onto their original box.
    back = LetterboxMeta.from_dict(t["meta"]).boxes_to_original(t["boxes"])
    tolerance = 1 / t["meta"]["scale"] + 1e-4
    for box, orig_box, label in zip(t["boxes"], back, t["labels"]):
        if box[0] > 0 and box[1] > 0 and box[2] < 96 and box[3] < 96:
            assert (orig_box - target["boxes"][label]).abs().max() <= tolerance


def test_pad_to_multiple():
    image, target = scene()  # 120 x 160 -> 128 x 192
    out, t = PadToMultiple(64)(image, target)
    assert out.shape == (3, 128, 192) and t["masks"].shape[1:] == (128, 192)
    assert torch.equal(out[:, :120, :160], image) and out[:, 120:].max() == 0
    assert out[:, :, 160:].max() == 0 and torch.equal(t["boxes"], target["boxes"])
    assert t["meta"] == {"scale": 1.0, "pad": (0.0, 0.0), "orig_size": (120, 160)}


def test_flip_swaps_classes_and_mirrors_boxes():
    classes = ["pn", "p19", "p23", "pl50"]
    image, target = scene()
    target["labels"] = torch.tensor([1, 0, 2])  # p19, pn, p23
    flip = HorizontalFlip(classes, p=1.0)
    out, t = flip(image, target)
    assert t["labels"].tolist() == [2, 0, 1]
    assert torch.equal(out, image.flip(-1))
    for box, orig_box in zip(t["boxes"].tolist(), target["boxes"].tolist()):
        assert box == [160 - orig_box[2], orig_box[1], 160 - orig_box[0], orig_box[3]]
    assert t["boxes"].tolist() == naive_boxes(t["masks"])
    # pl50 has no mirror class: an image holding one is not flipped.
    target["labels"] = torch.tensor([1, 3, 2])
    out, t = flip(image, target)
    assert torch.equal(out, image) and t["labels"].tolist() == [1, 3, 2]


def test_normalize_and_denormalize():
    image = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    x = normalize(image)
    assert x.dtype == torch.float32 and x.shape == image.shape
    for c in range(3):
        expected = (image[:, c].float() / 255 - MEAN[c]) / STD[c]
        assert torch.allclose(x[:, c], expected, atol=1e-6)
    assert torch.equal(denormalize(x), image)
    with pytest.raises(TypeError):
        normalize(image.float())


def test_pipelines_are_reproducible_and_return_float_with_meta():
    image, target = scene()
    train = train_transform(64)
    a, ta = train(image, target, rng=np.random.default_rng(5))
    b, tb = train(image, target, rng=np.random.default_rng(5))
    c, _ = train(image, target, rng=np.random.default_rng(6))
    assert a.dtype == torch.float32 and a.shape == (3, 64, 64)
    assert torch.equal(a, b) and torch.equal(ta["boxes"], tb["boxes"])
    assert not torch.equal(a, c)
    d, _ = train(image, target)  # no generator: derived from the image id, so repeatable
    e, _ = train(image, target)
    assert torch.equal(d, e)
    x, tx = eval_transform(64)(image, target)
    assert x.dtype == torch.float32 and tx["meta"]["orig_size"] == (120, 160)
    assert torch.equal(denormalize(x), Letterbox(64)(image, target)[0])
    assert "meta" not in target  # the input target is left untouched


def test_torch_generator_is_accepted():
    image, target = scene()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, _ = RandomCrop(64)(image, target, rng=g1)
    b, _ = RandomCrop(64)(image, target, rng=g2)
    assert torch.equal(a, b)


def test_transformed_dataset_changes_with_the_epoch_only():
    items = [scene(image_id=i) for i in range(3)]
    data = TransformedDataset(items, train_transform(48), seed=1)
    first = [data[i][0] for i in range(3)]
    assert all(torch.equal(x, data[i][0]) for i, x in enumerate(first))
    data.set_epoch(1)
    assert not torch.equal(first[0], data[0][0])
    assert item_rng(2, 1, 1).integers(1 << 30) == item_rng(2, 1, 1).integers(1 << 30)
