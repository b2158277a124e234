"""The geometric core: tight boxes of masks, warping box-only targets, and LetterboxMeta
mapping boxes back to the original image."""

from __future__ import annotations

import pytest
import torch

from mcn.data.geometry import LetterboxMeta, masks_to_boxes, warp
from tests.data.drawn_scene import check_consistent, naive_boxes, scene


def test_masks_to_boxes_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    masks = torch.rand(6, 17, 23, generator=gen) > 0.97
    masks[0] = False
    masks[1, 4, 9] = True
    boxes = masks_to_boxes(masks)
    assert boxes[0].tolist() == [0, 0, 0, 0]
    assert boxes[1:].tolist() == naive_boxes(masks[1:])


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
    check_consistent(out, t, colour_check=False)


def test_warp_of_box_only_targets_moves_boxes():
    image, target = scene()
    target = {"boxes": target["boxes"], "labels": target["labels"], "image_id": 1}
    _, t = warp(image, target, 0.5, (10.0, -5.0), (60, 80))
    expected = target["boxes"] * 0.5 + torch.tensor([10.0, -5.0, 10.0, -5.0])
    expected = torch.minimum(expected.clamp(min=0), torch.tensor([80.0, 60, 80, 60]))
    assert torch.allclose(t["boxes"], expected)


# --------------------------------------------------------------------------- letterbox
# A 2048 x 1024 (W x H) image letterboxed into 512 x 512: scale 0.25, 512 x 256 content,
# padded by 128 rows on top.
LETTERBOX = {"scale": 0.25, "pad": (0, 128), "orig_size": (1024, 2048)}


def test_to_original_undoes_the_letterbox_and_clips():
    boxes = torch.tensor([[100.0, 228.0, 140.0, 268.0],   # inside
                          [-4.0, 120.0, 20.0, 140.0],     # reaches into padding
                          [500.0, 370.0, 520.0, 400.0]])  # past the bottom/right
    mapped = LetterboxMeta.from_dict(LETTERBOX).boxes_to_original(boxes)
    # (x - 0) / 0.25, (y - 128) / 0.25, then clipped to 2048 x 1024.
    assert torch.allclose(mapped, torch.tensor([[400.0, 400.0, 560.0, 560.0],
                                                [0.0, 0.0, 80.0, 48.0],
                                                [2000.0, 968.0, 2048.0, 1024.0]]))


def test_letterbox_meta_names_a_bad_dict_and_maps_masks_back():
    with pytest.raises(ValueError, match="letterbox must be a dict with 'scale'"):
        LetterboxMeta.from_dict({"scale": 1.0})
    with pytest.raises(ValueError, match=r"meta\['scale'\] must be > 0"):
        LetterboxMeta.from_dict({"scale": 0, "pad": (0, 0), "orig_size": (4, 4)}, where="meta")
    # A 4 x 8 image letterboxed to 8 x 8 (scale 1, 2 rows of padding above and below);
    # a class map at stride 2 comes back at the image's own 4 x 8 pixels.
    meta = LetterboxMeta.from_dict({"scale": 1.0, "pad": (0.0, 2.0), "orig_size": (4, 8)})
    classes = torch.tensor([[0, 0, 0, 0], [1, 1, 2, 2], [3, 3, 0, 0], [0, 0, 0, 0]])
    back = meta.mask_to_original(classes, stride=2)
    assert back.dtype == torch.int64 and back.shape == (4, 8)
    assert back.tolist() == [[1, 1, 1, 1, 2, 2, 2, 2], [1, 1, 1, 1, 2, 2, 2, 2],
                             [3, 3, 3, 3, 0, 0, 0, 0], [3, 3, 3, 3, 0, 0, 0, 0]]
