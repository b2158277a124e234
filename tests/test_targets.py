"""Corner targets: Gaussian radius and stamps, corner cells/offsets, semantic masks, batches.

Expected values come from direct re-computations (loops, ``math``) or are worked by hand
in the comments, never from the implementation under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from mcn.targets import (
    build_targets,
    draw_gaussian,
    draw_gaussians,
    gaussian_kernel,
    gaussian_radius,
    semantic_mask,
)


# --------------------------------------------------------------------------- radius
def radius_by_hand(h: float, w: float, o: float) -> int:
    """CornerNet's three cases, written with the math module."""
    a1, b1, c1 = 1, h + w, w * h * (1 - o) / (1 + o)
    r1 = (b1 - math.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - o) * w * h
    r2 = (b2 - math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 8
    a3, b3, c3 = 4 * o, -2 * o * (h + w), (o - 1) * w * h
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / (2 * a3)
    return max(0, math.floor(min(r1, r2, r3)))


@pytest.mark.parametrize("overlap", [0.3, 0.5, 0.7])
def test_radius_matches_the_three_case_formula_on_a_grid(overlap):
    sizes = [1, 2, 3, 4, 5, 7, 8, 10, 13, 16, 21, 32, 50, 64, 100, 128]
    for h in sizes:
        for w in sizes:
            assert gaussian_radius(h, w, overlap) == radius_by_hand(h, w, overlap), (h, w)
    hs = torch.tensor([h for h in sizes for _ in sizes], dtype=torch.float32)
    ws = torch.tensor([w for _ in sizes for w in sizes], dtype=torch.float32)
    as_tensor = gaussian_radius(hs, ws, overlap)
    assert as_tensor.dtype == torch.int64
    assert as_tensor.tolist() == [radius_by_hand(h, w, overlap) for h in sizes for w in sizes]


def test_radius_is_an_int_and_grows_with_the_box():
    assert isinstance(gaussian_radius(10, 10), int)
    assert gaussian_radius(1, 1) == 0
    assert gaussian_radius(40, 40) > gaussian_radius(10, 10)
    with pytest.raises(ValueError, match="min_overlap"):
        gaussian_radius(10, 10, 1.5)


# --------------------------------------------------------------------------- Gaussians
@pytest.mark.parametrize("radius", [0, 1, 2, 5])
def test_kernel_peak_symmetry_and_sigma(radius):
    kernel = gaussian_kernel(radius, torch.float64)
    assert kernel.shape == (2 * radius + 1, 2 * radius + 1)
    assert kernel[radius, radius] == 1.0
    assert kernel.max() == 1.0 and (kernel[radius, radius] > kernel).sum() == kernel.numel() - 1
    assert torch.equal(kernel, kernel.flip(0)) and torch.equal(kernel, kernel.flip(1))
    assert torch.equal(kernel, kernel.T)
    if radius:
        sigma = (2 * radius + 1) / 6
        assert kernel[radius, radius + 1].item() == pytest.approx(math.exp(-1 / (2 * sigma ** 2)))
        assert kernel[0, 0].item() == pytest.approx(math.exp(-2 * radius ** 2 / (2 * sigma ** 2)))


def test_kernel_radius_two_by_hand():
    # r = 2: diameter 5, sigma = 5/6, one cell away: exp(-1 / (2 * 25/36)) = exp(-18/25).
    assert gaussian_kernel(2, torch.float64)[2, 3].item() == pytest.approx(math.exp(-18 / 25))


def stamp_by_loop(height, width, x, y, radius):
    sigma = (2 * radius + 1) / 6
    out = torch.zeros(height, width, dtype=torch.float64)
    for i in range(height):
        for j in range(width):
            if abs(i - y) <= radius and abs(j - x) <= radius:
                out[i, j] = math.exp(-((i - y) ** 2 + (j - x) ** 2) / (2 * sigma ** 2))
    return out


@pytest.mark.parametrize("x, y, radius", [(0, 0, 3), (6, 4, 2), (9, 7, 4), (3, 5, 0)])
def test_draw_gaussian_cuts_at_the_border(x, y, radius):
    heat = draw_gaussian(torch.zeros(8, 10, dtype=torch.float64), x, y, radius)
    assert torch.allclose(heat, stamp_by_loop(8, 10, x, y, radius))
    assert heat[y, x] == 1.0


def test_draw_gaussians_equals_one_stamp_at_a_time_merged_by_max():
    gen = torch.Generator().manual_seed(0)
    n = 40
    batch = torch.randint(0, 2, (n,), generator=gen)
    channel = torch.randint(0, 3, (n,), generator=gen)
    xs = torch.randint(0, 11, (n,), generator=gen)
    ys = torch.randint(0, 9, (n,), generator=gen)
    radii = torch.randint(0, 5, (n,), generator=gen)
    fast = draw_gaussians(torch.zeros(2, 3, 9, 11), batch, channel, xs, ys, radii)
    slow = torch.zeros(2, 3, 9, 11, dtype=torch.float64)
    for b, c, x, y, r in zip(batch.tolist(), channel.tolist(), xs.tolist(), ys.tolist(),
                             radii.tolist()):
        slow[b, c] = torch.maximum(slow[b, c], stamp_by_loop(9, 11, x, y, r))
    assert torch.allclose(fast.double(), slow, atol=1e-6)


# --------------------------------------------------------------------------- one box
def test_one_box_worked_by_hand():
    # Box (10, 20, 50, 61) at stride 4 on a 128 x 96 input (32 x 24 output map):
    # TL (2.5, 5.0) -> cell (2, 5), offset (0.5, 0); BR (12.5, 15.25) -> cell
    # (ceil - 1) = (12, 15), offset (0.5, 0.25). Flat index y * 24 + x.
    target = {"boxes": torch.tensor([[10.0, 20.0, 50.0, 61.0]]), "labels": torch.tensor([2])}
    out = build_targets([target], num_classes=3, input_size=(128, 96))
    assert out["tl_heat"].shape == (1, 3, 32, 24) and out["mask"].shape == (1, 64, 48)
    assert out["tl_idx"].tolist() == [[5 * 24 + 2]]
    assert out["br_idx"].tolist() == [[15 * 24 + 12]]
    assert torch.allclose(out["tl_off"], torch.tensor([[[0.5, 0.0]]]))
    assert torch.allclose(out["br_off"], torch.tensor([[[0.5, 0.25]]]))
    assert out["valid"].tolist() == [[True]] and out["num_dropped"] == 0
    # Peaks: exactly one 1 per map, in channel 2 at the corner cells.
    assert out["tl_heat"][0, 2, 5, 2] == 1 and (out["tl_heat"] == 1).sum() == 1
    assert out["br_heat"][0, 2, 15, 12] == 1 and (out["br_heat"] == 1).sum() == 1
    assert out["tl_heat"][0, :2].abs().sum() == 0
    # Radius from the box size on the output map, rounded up: ceil(10) x ceil(10.25).
    r = radius_by_hand(11, 10, 0.3)
    expected = stamp_by_loop(32, 24, 2, 5, r).float()
    assert torch.allclose(out["tl_heat"][0, 2], expected, atol=1e-6)
    # Mask (stride 2, no instance masks: filled box by cell centre): columns whose
    # centre 2j+1 lies in [10, 50) are j = 5..24, rows with 2i+1 in [20, 61): i = 10..29.
    mask = out["mask"][0]
    assert mask[10:30, 5:25].eq(3).all() and mask.eq(3).sum() == 20 * 20
    assert mask.eq(0).sum() == mask.numel() - 20 * 20


def test_box_touching_the_right_and_bottom_edge_lands_on_the_last_cell():
    target = {"boxes": torch.tensor([[40.0, 44.0, 64.0, 64.0]]), "labels": torch.tensor([0])}
    out = build_targets([target], num_classes=1, input_size=(64, 64))
    assert out["br_idx"].tolist() == [[15 * 16 + 15]]
    assert torch.allclose(out["br_off"], torch.tensor([[[1.0, 1.0]]]))
    assert out["br_heat"][0, 0, 15, 15] == 1


def test_touching_boxes_do_not_share_a_corner_column():
    # x2 of the first box == x1 of the second, on a cell boundary (24 = 6 * 4).
    boxes = torch.tensor([[8.0, 8.0, 24.0, 24.0], [24.0, 8.0, 40.0, 24.0]])
    out = build_targets([{"boxes": boxes, "labels": torch.tensor([0, 0])}], 1, (64, 64))
    br_x = out["br_idx"][0, 0] % 16
    tl_x = out["tl_idx"][0, 1] % 16
    assert (br_x, tl_x) == (5, 6)


def test_corner_positions_reconstruct_the_boxes():
    gen = torch.Generator().manual_seed(1)
    xy = torch.rand(30, 2, generator=gen) * 90
    wh = torch.rand(30, 2, generator=gen) * 30 + 0.5
    boxes = torch.cat([xy, (xy + wh).clamp(max=128)], 1)
    out = build_targets([{"boxes": boxes, "labels": torch.zeros(30, dtype=torch.long)}],
                        1, (128, 128))
    w = 32
    for corner, cols in (("tl", slice(0, 2)), ("br", slice(2, 4))):
        idx = out[f"{corner}_idx"][0]
        cell = torch.stack([idx % w, idx // w], 1).float()
        off = out[f"{corner}_off"][0]
        assert torch.allclose((cell + off) * 4, boxes[:, cols], atol=1e-4)
        if corner == "tl":
            assert (off >= 0).all() and (off < 1).all()
        else:
            assert (off > 0).all() and (off <= 1).all()


# --------------------------------------------------------------------------- clip, drop, pad
def test_boxes_are_clipped_and_empty_ones_dropped_and_counted():
    boxes = torch.tensor([
        [-8.0, -4.0, 20.0, 16.0],   # partly outside: clipped to (0, 0, 20, 16)
        [30.0, 30.0, 30.0, 50.0],   # zero width
        [70.0, 10.0, 90.0, 20.0],   # entirely right of the 64-wide image
        [50.0, 40.0, 80.0, 70.0],   # clipped to (50, 40, 64, 64)
    ])
    out = build_targets([{"boxes": boxes, "labels": torch.tensor([0, 1, 2, 1])}], 3, (64, 64))
    assert out["num_dropped"] == 2
    assert out["valid"].tolist() == [[True, True]]
    assert out["labels"].tolist() == [[0, 1]]
    assert torch.equal(out["boxes"][0], torch.tensor([[0.0, 0, 20, 16], [50, 40, 64, 64]]))
    assert (out["tl_heat"] == 1).sum() == 2 and (out["br_heat"] == 1).sum() == 2


def test_batch_pads_to_the_largest_image_and_marks_padding_invalid():
    def boxes(n):
        return torch.tensor([[4.0 * i, 4.0 * i, 4.0 * i + 8, 4.0 * i + 8] for i in range(n)])
    targets = [{"boxes": boxes(n), "labels": torch.zeros(n, dtype=torch.long)}
               for n in (3, 0, 5)]
    out = build_targets(targets, 2, (64, 64))
    assert out["valid"].tolist() == [[True] * 3 + [False] * 2, [False] * 5, [True] * 5]
    assert out["tl_idx"].shape == (3, 5) and out["tl_off"].shape == (3, 5, 2)
    assert out["tl_idx"].dtype == torch.int64
    assert out["tl_heat"][1].abs().sum() == 0 and out["mask"][1].abs().sum() == 0
    # Padding slots are inert: index 0, offset 0.
    assert out["tl_idx"][0, 3:].eq(0).all() and out["tl_off"][1].eq(0).all()


def test_a_batch_without_any_object():
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    out = build_targets([empty, empty], 4, (32, 32))
    assert out["tl_idx"].shape == (2, 0) and out["valid"].shape == (2, 0)
    assert out["tl_heat"].shape == (2, 4, 8, 8) and out["tl_heat"].sum() == 0
    assert out["mask"].shape == (2, 16, 16) and out["mask"].sum() == 0


def test_five_hundred_objects_in_one_image_keep_every_object():
    gen = torch.Generator().manual_seed(5)
    n = 500
    xy = torch.randint(0, 480, (n, 2), generator=gen).float()
    wh = torch.randint(4, 33, (n, 2), generator=gen).float()
    boxes = torch.cat([xy, xy + wh], 1)
    labels = torch.randint(0, 42, (n,), generator=gen)
    out = build_targets([{"boxes": boxes, "labels": labels}], 42, (512, 512))
    assert out["valid"].shape == (1, n) and out["valid"].all()
    assert torch.equal(out["labels"][0], labels)
    # Every object's corner peak is present in its class channel.
    heat = out["tl_heat"][0].reshape(42, -1)
    assert (heat[labels, out["tl_idx"][0]] == 1).all()
    heat = out["br_heat"][0].reshape(42, -1)
    assert (heat[labels, out["br_idx"][0]] == 1).all()


# --------------------------------------------------------------------------- masks
def test_instance_masks_are_downsampled_by_majority_vote():
    masks = torch.zeros(1, 8, 8, dtype=torch.bool)
    masks[0, 0:2, 0:2] = True          # a full 2x2 block: in
    masks[0, 0, 2:4] = True            # half a block (2 of 4): in (ties count)
    masks[0, 2, 4] = True              # 1 of 4: out
    masks[0, 4:6, 6] = True            # 2 of 4 again, vertical: in
    target = {"boxes": torch.tensor([[0.0, 0.0, 8.0, 8.0]]), "labels": torch.tensor([4]),
              "masks": masks}
    out = build_targets([target], 5, (8, 8), stride=4, mask_stride=2)
    expected = torch.zeros(4, 4, dtype=torch.long)
    expected[0, 0] = expected[0, 1] = expected[2, 3] = 5
    assert torch.equal(out["mask"][0], expected)


def majority_by_loop(mask, stride):
    height, width = mask.shape[0] // stride, mask.shape[1] // stride
    out = torch.zeros(height, width, dtype=torch.bool)
    for i in range(height):
        for j in range(width):
            block = mask[i * stride:(i + 1) * stride, j * stride:(j + 1) * stride]
            out[i, j] = 2 * int(block.sum()) >= stride * stride
    return out


@pytest.mark.parametrize("mask_stride", [1, 2])
def test_overlapping_instances_go_to_the_smaller_box(mask_stride):
    gen = torch.Generator().manual_seed(3)
    n, size = 8, 32
    xy = torch.randint(0, 40, (n, 2), generator=gen).float() / 2  # half-pixel corners
    wh = torch.randint(3, 26, (n, 2), generator=gen).float() / 2
    boxes = torch.cat([xy, xy + wh], 1)
    labels = torch.randint(0, 3, (n,), generator=gen)
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        x1, y1, x2, y2 = math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2)
        masks[i, y1:y2, x1:x2] = torch.rand(y2 - y1, x2 - x1, generator=gen) > 0.3
    out = build_targets([{"boxes": boxes, "labels": labels, "masks": masks}], 3,
                        (size, size), stride=4, mask_stride=mask_stride)
    # Naive: downsample each whole mask, paint from the largest area to the smallest.
    expected = torch.zeros(size // mask_stride, size // mask_stride, dtype=torch.long)
    areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).tolist()
    for i in sorted(range(n), key=lambda k: (-areas[k], k)):
        expected[majority_by_loop(masks[i], mask_stride)] = labels[i] + 1
    assert torch.equal(out["mask"][0], expected)
    assert len(expected.unique()) > 2  # the test really had overlapping classes


def test_filled_boxes_stand_in_for_missing_masks():
    boxes = torch.tensor([[1.5, 2.0, 9.0, 7.5], [6.0, 0.0, 13.5, 4.0], [0.0, 10.0, 16.0, 16.0]])
    labels = torch.tensor([0, 1, 2])
    out = build_targets([{"boxes": boxes, "labels": labels}], 3, (16, 16), stride=4,
                        mask_stride=2)
    expected = torch.zeros(8, 8, dtype=torch.long)
    areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).tolist()
    for k in sorted(range(3), key=lambda k: -areas[k]):
        x1, y1, x2, y2 = boxes[k].tolist()
        for i in range(8):
            for j in range(8):
                cx, cy = 2 * j + 1, 2 * i + 1  # cell centres in input pixels
                if x1 <= cx < x2 and y1 <= cy < y2:
                    expected[i, j] = labels[k] + 1
    assert torch.equal(out["mask"][0], expected)


def test_semantic_mask_without_instances_is_background():
    out = semantic_mask(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (4, 5), 2,
                        torch.zeros(0, 8, 10, dtype=torch.bool))
    assert out.shape == (4, 5) and out.sum() == 0
    # An empty box paints nothing even when its mask is not empty.
    out = semantic_mask(torch.tensor([[3.0, 2.0, 3.0, 6.0]]), torch.tensor([0]), (4, 5), 2,
                        torch.ones(1, 8, 10, dtype=torch.bool))
    assert out.sum() == 0


# --------------------------------------------------------------------------- errors
def test_bad_input_names_the_culprit():
    good = {"boxes": torch.tensor([[0.0, 0, 8, 8]]), "labels": torch.tensor([0])}
    with pytest.raises(ValueError, match="labels"):
        build_targets([{**good, "labels": torch.tensor([3])}], 3, (32, 32))
    with pytest.raises(ValueError, match="masks"):
        build_targets([{**good, "masks": torch.zeros(1, 16, 16, dtype=torch.bool)}], 3, (32, 32))
    with pytest.raises(ValueError, match="multiple of stride"):
        build_targets([good], 3, (30, 32))
    with pytest.raises(ValueError, match="boxes"):
        build_targets([{**good, "boxes": torch.tensor([[0.0, 0, 8]])}], 3, (32, 32))
    with pytest.raises(ValueError, match="NaN"):
        build_targets([{**good, "boxes": torch.tensor([[0.0, float("nan"), 8, 8]])}], 3, (32, 32))
    with pytest.raises(ValueError, match="labels"):
        build_targets([{**good, "labels": torch.tensor([0, 1])}], 3, (32, 32))
    with pytest.raises(TypeError, match="list"):
        build_targets(good, 3, (32, 32))
