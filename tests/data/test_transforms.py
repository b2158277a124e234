"""Augmentation and input preparation: boxes stay the masks' extents, meta maps back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcn.data.collate import collate
from mcn.data.colour import EIGVAL, EIGVEC, ColorJitter, Lighting
from mcn.data.geometry import LetterboxMeta, masks_to_boxes, warp
from mcn.data.rng import item_rng
from mcn.data.transforms import (
    MEAN, STD, HorizontalFlip, Letterbox, PadToMultiple, RandomCrop, TransformedDataset,
    denormalize, eval_transform, normalize, train_transform,
)

COLOURS = [(250, 30, 30), (30, 250, 30), (30, 30, 250)]


def naive_boxes(masks: torch.Tensor) -> list[list[float]]:
    """Extents by looping over rows and columns (x2, y2 exclusive)."""
    boxes = []
    for m in masks.numpy():
        cols = [c for c in range(m.shape[1]) if m[:, c].any()]
        rows = [r for r in range(m.shape[0]) if m[r, :].any()]
        boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
    return boxes


def scene(height=120, width=160, image_id=3):
    """A dark image with a rectangle, a disc and a thin bar in distinct colours."""
    image = torch.full((3, height, width), 10, dtype=torch.uint8)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    masks = torch.stack([
        (xs >= 20) & (xs < 60) & (ys >= 15) & (ys < 45),
        (xs + 0.5 - 110) ** 2 + (ys + 0.5 - 70) ** 2 <= 22 ** 2,
        (xs >= 70) & (xs < 74) & (ys >= 90) & (ys < 118),
    ])
    for mask, colour in zip(masks, COLOURS):
        image[:, mask] = torch.tensor(colour, dtype=torch.uint8)[:, None]
    target = {"boxes": torch.tensor(naive_boxes(masks), dtype=torch.float32),
              "labels": torch.tensor([0, 1, 2]), "masks": masks,
              "ignore_boxes": torch.tensor([[130.0, 5.0, 150.0, 25.0]]), "image_id": image_id}
    return image, target


def test_masks_to_boxes_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    masks = torch.rand(6, 17, 23, generator=gen) > 0.97
    masks[0] = False
    masks[1, 4, 9] = True
    boxes = masks_to_boxes(masks)
    assert boxes[0].tolist() == [0, 0, 0, 0]
    assert boxes[1:].tolist() == naive_boxes(masks[1:])


def _check_consistent(image, target, colour_check=True):
    """Boxes equal the masks' extents, inside the canvas, masks on their colour."""
    height, width = image.shape[1:]
    assert target["masks"].shape == (len(target["labels"]), height, width)
    if len(target["labels"]):
        assert target["boxes"].tolist() == naive_boxes(target["masks"])
    if colour_check:
        for mask, label in zip(target["masks"], target["labels"]):
            # Interior pixels (all 8 neighbours in the mask) must show the object's colour;
            # the outline ring mixes with the background when resampled.
            padded = torch.nn.functional.pad(mask[None].float(), (1, 1, 1, 1))
            inner = -torch.nn.functional.max_pool2d(-padded, 3, 1)[0] > 0
            colour = torch.tensor(COLOURS[int(label)])[:, None].float()
            close = (image[:, inner].float() - colour).abs().max(dim=0).values < 40
            assert close.all(), "the mask should sit on its object's pixels"


def test_letterbox_meta_by_hand_and_boxes_map_back():
    image, target = scene()  # 120 x 160 -> 64 x 64: scale 0.4, content 48 x 64, pad top 8
    out, t = Letterbox(64)(image, target)
    assert out.shape == (3, 64, 64) and out.dtype == torch.uint8
    assert t["meta"] == {"scale": 0.4, "pad": (0.0, 8.0), "orig_size": (120, 160)}
    _check_consistent(out, t)
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
    _check_consistent(out, t)
    # Integer boxes scale exactly when the scale is 2.5 and the pad whole.
    expected = torch.tensor([[12.5, 17, 37.5, 37], [75, 57, 82.5, 79.5]])
    assert (t["boxes"] - expected).abs().max() <= 0.5


@pytest.mark.parametrize("seed", range(8))
def test_random_crop_keeps_boxes_tight_and_meta_consistent(seed):
    image, target = scene()
    out, t = RandomCrop(96, border=16)(image, target, rng=np.random.default_rng(seed))
    assert out.shape == (3, 96, 96)
    _check_consistent(out, t)
    assert 1 / 1.3 <= t["meta"]["scale"] <= 1 / 0.6
    # Whole objects that stay inside the crop map back onto their original box.
    back = LetterboxMeta.from_dict(t["meta"]).boxes_to_original(t["boxes"])
    tolerance = 1 / t["meta"]["scale"] + 1e-4
    for box, orig_box, label in zip(t["boxes"], back, t["labels"]):
        if box[0] > 0 and box[1] > 0 and box[2] < 96 and box[3] < 96:
            assert (orig_box - target["boxes"][label]).abs().max() <= tolerance


def test_objects_cropped_out_are_dropped():
    image, target = scene()
    # Shift everything 100 px left: rectangle (x < 60) and bar (x < 74) leave the canvas,
    # the disc (x from 88 to 132) is cut at the left edge.
    out, t = warp(image, target, 1.0, (-100.0, 0.0), (120, 160))
    assert t["labels"].tolist() == [1]
    assert t["masks"].shape == (1, 120, 160) and t["boxes"].tolist() == [[0, 48, 32, 92]]
    assert t["ignore_boxes"].tolist() == [[30, 5, 50, 25]]
    # Shrunk 10 times, the 4-px bar is under min_size 1.5 and disappears.
    out, t = warp(image, target, 0.1, (0.0, 0.0), (12, 16), min_size=1.5)
    assert 2 not in t["labels"].tolist()
    _check_consistent(out, t, colour_check=False)


def test_warp_of_box_only_targets_moves_boxes():
    image, target = scene()
    target = {"boxes": target["boxes"], "labels": target["labels"], "image_id": 1}
    _, t = warp(image, target, 0.5, (10.0, -5.0), (60, 80))
    expected = target["boxes"] * 0.5 + torch.tensor([10.0, -5.0, 10.0, -5.0])
    expected = torch.minimum(expected.clamp(min=0), torch.tensor([80.0, 60, 80, 60]))
    assert torch.allclose(t["boxes"], expected)


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


def test_colour_jitter_and_lighting():
    image = torch.full((3, 8, 8), 128, dtype=torch.uint8)
    target = {"image_id": 0}
    same, _ = ColorJitter(0.0, 0.0, 0.0)(image, target, rng=np.random.default_rng(0))
    assert torch.equal(same, image)
    for seed in range(5):
        out, _ = ColorJitter(0.4, 0.0, 0.0)(image, target, rng=np.random.default_rng(seed))
        ratio = out.float() / 128
        assert ratio.min() >= 0.6 - 1e-2 and ratio.max() <= 1.4 + 1e-2
        assert (out == out[0, 0, 0]).all()  # brightness of a grey image stays uniform grey
    # Lighting adds one offset per channel: sum_j EIGVEC[c][j] * EIGVAL[j] * alpha_j.
    out, _ = Lighting(0.1)(image, target, rng=np.random.default_rng(7))
    alpha = np.random.default_rng(7).normal(0.0, 0.1, size=3)
    for c in range(3):
        offset = sum(EIGVEC[c][j] * EIGVAL[j] * alpha[j] for j in range(3))
        assert (out[c].float() - round(128 + 255 * offset)).abs().max() <= 1


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


def test_collate_stacks_images_and_lists_targets():
    image, target = scene()
    batch = [eval_transform(64)(image, target), eval_transform(64)(image, target)]
    images, targets = collate(batch)
    assert images.shape == (2, 3, 64, 64) and isinstance(targets, list) and len(targets) == 2
    assert targets[1] is batch[1][1]
    with pytest.raises(ValueError, match="shape"):
        collate([batch[0], (torch.zeros(3, 32, 32), {})])
    with pytest.raises(ValueError, match="empty"):
        collate([])
