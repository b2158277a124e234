"""Placing signs in a synthetic scene without hiding any of them, and reading back what
stays visible.

The stand-in for Tsinghua-Tencent 100K (Zhu et al., CVPR 2016) must label every sign it
paints. Occlusion rule: an occluder or a later sign is only drawn if every sign keeps at
least ``1 - MAX_HIDDEN_FRACTION`` (60 %) of its own pixels visible, so no sign is hidden
so much that it would have to be left unlabelled; a sign whose visible mask still has
fewer than ``MIN_VISIBLE_PIXELS`` pixels is dropped from the labels. Each object's mask
is the sign's pixels minus those of everything drawn in front of it; its box is the
mask's extent. Taught in chapter 2.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mcn.data import clutter, signs
from mcn.data.sign_shapes import extent_units

#: Nothing drawn in front of a sign may hide more than this fraction of it.
MAX_HIDDEN_FRACTION = 0.4
#: A sign may overlap earlier signs with at most this fraction of its own area.
MAX_SIGN_ON_SIGN = 0.3
#: Signs with fewer visible pixels than this are dropped from the labels.
MIN_VISIBLE_PIXELS = 4
#: Probability that a sign gets an occluder (foliage, branch, pole, wire, board) in front.
OCCLUSION_PROBABILITY = 0.3


@dataclass
class Scene:
    """One rendered scene as NumPy arrays (what ``SyntheticSigns.render`` returns).

    image: uint8 (H, W, 3) RGB; boxes: float32 (N, 4) x1, y1, x2, y2 with exclusive
    x2, y2; labels: int64 (N,); masks: bool (N, H, W); categories: the N class names.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    categories: tuple[str, ...]


@dataclass
class Placed:
    """A sign drawn in the scene: its patch (clipped to the image) and what is still seen."""

    label: int
    patch: signs.SignPatch
    full_pixels: int
    visible: np.ndarray  # bool, same shape as patch.mask


def _overlap(ax: int, ay: int, a: np.ndarray, bx: int, by: int, b: np.ndarray):
    """Slices into a and b of the region where two offset arrays overlap, or None."""
    x0, y0 = max(ax, bx), max(ay, by)
    x1, y1 = min(ax + a.shape[1], bx + b.shape[1]), min(ay + a.shape[0], by + b.shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return ((slice(y0 - ay, y1 - ay), slice(x0 - ax, x1 - ax)),
            (slice(y0 - by, y1 - by), slice(x0 - bx, x1 - bx)))


def fits_budget(placed: Sequence[Placed], x0: int, y0: int, mask: np.ndarray) -> bool:
    """Whether covering ``mask`` (at x0, y0) leaves every placed sign visible enough."""
    for sign in placed:
        where = _overlap(sign.patch.x0, sign.patch.y0, sign.visible, x0, y0, mask)
        if where is None:
            continue
        hidden = np.count_nonzero(sign.visible[where[0]] & mask[where[1]])
        if hidden and (np.count_nonzero(sign.visible) - hidden
                       < (1 - MAX_HIDDEN_FRACTION) * sign.full_pixels):
            return False
    return True


def sits_on_another_sign(placed: Sequence[Placed], x0: int, y0: int,
                          mask: np.ndarray) -> bool:
    """Whether more than ``MAX_SIGN_ON_SIGN`` of ``mask`` would lie on one placed sign: a
    sign may overlap another's edge, as at different depths, but never sit on its face."""
    limit = MAX_SIGN_ON_SIGN * np.count_nonzero(mask)
    for sign in placed:
        where = _overlap(sign.patch.x0, sign.patch.y0, sign.patch.mask, x0, y0, mask)
        if where is not None and np.count_nonzero(sign.patch.mask[where[0]]
                                                  & mask[where[1]]) > limit:
            return True
    return False


def cover(placed: Sequence[Placed], x0: int, y0: int, mask: np.ndarray) -> None:
    """Remove ``mask`` (at x0, y0) from the visible part of every placed sign."""
    for sign in placed:
        where = _overlap(sign.patch.x0, sign.patch.y0, sign.visible, x0, y0, mask)
        if where is not None:
            sign.visible[where[0]] &= ~mask[where[1]]


def clip_patch(patch: signs.SignPatch, size: int) -> signs.SignPatch:
    """The part of a patch inside a size x size image."""
    h, w = patch.mask.shape
    x0, y0 = max(patch.x0, 0), max(patch.y0, 0)
    x1, y1 = min(patch.x0 + w, size), min(patch.y0 + h, size)
    rows, cols = slice(y0 - patch.y0, y1 - patch.y0), slice(x0 - patch.x0, x1 - patch.x0)
    return signs.SignPatch(x0, y0, patch.premultiplied[rows, cols], patch.alpha[rows, cols],
                           patch.mask[rows, cols], patch.outline)


def group_layout(arrangement: str, sizes: Sequence[float], shapes: Sequence[str],
                  gap: float) -> tuple[list[tuple[float, float]], float, float]:
    """Centres of a group's signs relative to the group's centre, and its width, height."""
    extents = [extent_units(s) for s in shapes]
    widths = [size * e[0] / 2 for size, e in zip(sizes, extents)]
    heights = [size * e[1] / 2 for size, e in zip(sizes, extents)]
    if arrangement == "row":
        total = sum(widths) + gap * (len(sizes) - 1)
        xs = np.cumsum([0.0] + [w + gap for w in widths[:-1]]) + np.array(widths) / 2
        return [(x - total / 2, 0.0) for x in xs], total, max(heights)
    total = sum(heights) + gap * (len(sizes) - 1)
    ys = np.cumsum([0.0] + [h + gap for h in heights[:-1]]) + np.array(heights) / 2
    return [(0.0, y - total / 2) for y in ys], max(widths), total


def place_group(rng: np.random.Generator, image_size: int, band_y: float,
                 arrangement: str, labels: Sequence[int], sizes: Sequence[float],
                 classes: Sequence[str],
                 placed: list[Placed]) -> tuple[list[Placed], tuple] | None:
    """Try to place a group of signs after those already ``placed``.

    Returns (every sign with the group's signs appended and the earlier signs' visible
    masks updated, the group's pole), or None if the group would not fit in the image
    or would hide too much of a sign. ``placed`` itself is left untouched.
    """
    shapes = [signs.sign_shape(classes[label]) for label in labels]
    gap = rng.uniform(0.02, 0.12) * max(sizes)
    offsets, width, height = group_layout(arrangement, sizes, shapes, gap)
    if max(width, height) > image_size - 4:
        return None
    roll = float(np.clip(rng.normal(0, 3.0), -10, 10))
    yaw = float(rng.uniform(-35, 35) if rng.random() < 0.6 else rng.normal(0, 5))
    cx = rng.uniform(width / 2 + 2, image_size - width / 2 - 2)
    cy = float(np.clip(rng.normal(band_y, 0.1 * image_size),
                       height / 2 + 2, image_size - height / 2 - 2))
    # Work on copies of the visible masks: a rejected group must leave no trace.
    trial = [dataclasses.replace(s, visible=s.visible.copy()) for s in placed]
    for label, size, (dx, dy) in zip(labels, sizes, offsets):
        patch = signs.sign_patch(classes[label], size, (cx + dx, cy + dy),
                                 roll_deg=roll + rng.normal(0, 1.0), yaw_deg=yaw)
        if patch.outline.min() < 0 or patch.outline.max() > image_size:
            return None
        patch = clip_patch(patch, image_size)
        if (not fits_budget(trial, patch.x0, patch.y0, patch.mask)
                or sits_on_another_sign(trial, patch.x0, patch.y0, patch.mask)):
            return None
        cover(trial, patch.x0, patch.y0, patch.mask)  # the new sign is drawn on top
        trial.append(Placed(label, patch, int(np.count_nonzero(patch.mask)),
                             patch.mask.copy()))
    pole = (cx, cy - height / 2, cy + height / 2, max(sizes))
    return trial, pole


def occlude(image: np.ndarray, rng: np.random.Generator, placed: list[Placed]) -> None:
    """Paint occluders in front of some signs, within every sign's occlusion budget."""
    shape = image.shape[:2]
    for target in list(placed):
        if rng.random() >= OCCLUSION_PROBABILITY:
            continue
        ys, xs = np.nonzero(target.visible)
        box = (target.patch.x0 + xs.min(), target.patch.y0 + ys.min(),
               target.patch.x0 + xs.max() + 1, target.patch.y0 + ys.max() + 1)
        for _attempt in range(3):
            occluder = clutter.make_occluder(rng, shape, box)
            if fits_budget(placed, occluder.x0, occluder.y0, occluder.mask):
                clutter.paint_occluder(image, occluder)
                cover(placed, occluder.x0, occluder.y0, occluder.mask)
                break


def collect(image: np.ndarray, placed: Sequence[Placed], classes: Sequence[str]) -> Scene:
    """Labels, full-image masks and tight boxes of the signs that stay visible."""
    size = image.shape[0]
    kept = [s for s in placed if np.count_nonzero(s.visible) >= MIN_VISIBLE_PIXELS]
    masks = np.zeros((len(kept), size, size), bool)
    boxes = np.zeros((len(kept), 4), np.float32)
    for k, sign in enumerate(kept):
        h, w = sign.visible.shape
        masks[k, sign.patch.y0:sign.patch.y0 + h, sign.patch.x0:sign.patch.x0 + w] = sign.visible
        rows = np.flatnonzero(sign.visible.any(axis=1))
        cols = np.flatnonzero(sign.visible.any(axis=0))
        boxes[k] = (sign.patch.x0 + cols[0], sign.patch.y0 + rows[0],
                    sign.patch.x0 + cols[-1] + 1, sign.patch.y0 + rows[-1] + 1)
    labels = np.array([s.label for s in kept], np.int64)
    return Scene(image, boxes, labels, masks, tuple(classes[s.label] for s in kept))
