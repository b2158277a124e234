"""SyntheticSigns: street scenes with traffic signs of the TT100K classes, generated.

The Mask-CornerNet paper (Yang, Fan and Guo, 2020) trains and tests on Tsinghua-Tencent
100K (Zhu et al., CVPR 2016), which cannot be downloaded everywhere. This dataset paints
stand-in scenes with the statistics that matter for detection (REFERENCE.md section 8):

* sign sizes follow TT100K's long-side mix: 37.9 % below 32 px, 52.2 % from 32 to 96 px,
  9.9 % from 96 to 400 px, in 512 x 512 crops of the full-resolution images (sizes scale
  with ``image_size``);
* about 2.5 signs per image, some images without any sign; the signs' centres cluster in
  a horizontal band; a third of the signs come in pairs stacked on one pole (or side by
  side); classes follow TT100K's long tail;
* mild perspective and rotation, signs and occluders in front of signs, blur, exposure,
  noise and JPEG compression; sign-like distractors that carry no label.

Each object's mask is exact: the sign's pixels (coverage >= 1/2 of the anti-aliased
outline) minus those of everything drawn in front of it. Its box is the mask's extent,
with the exclusive right/bottom edges of the package's box convention.

Occlusion rule: an occluder or a later sign is only drawn if every sign keeps at least
``1 - MAX_HIDDEN_FRACTION`` (60 %) of its own pixels visible, so no sign in an image is
hidden so much that it would have to be left unlabelled. A sign whose visible mask still
has fewer than ``MIN_VISIBLE_PIXELS`` pixels is dropped from the labels.

An item is a pure function of ``(seed, index)``: the random generator is seeded from the
pair, so items are identical across worker counts, call orders and fresh instances.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mcn.classes import BY_FREQUENCY, SIZE_BINS as TT100K_SIZE_BINS, SIZE_SHARES, resolve_classes
from mcn.data import scenes, signs
from mcn.data.sign_shapes import extent_units

#: The smallest long side sampled at 512 x 512 (TT100K's small bin starts at 0).
SMALLEST_SIGN = 10.0
#: TT100K's long-side mix at 512 x 512: (fraction, low px, high px) per size bin.
SIZE_BINS = tuple((SIZE_SHARES[name], max(low, SMALLEST_SIGN), high)
                  for name, (low, high) in TT100K_SIZE_BINS.items())
#: The image side at which ``SIZE_BINS`` hold; other sizes scale the pixel bounds.
REFERENCE_SIZE = 512
#: Smallest sign drawn, in pixels, whatever the image size (smaller is invisible).
MIN_SIGN_PX = 5.0
#: Long-tail model: the class of frequency rank r (0 = most frequent) has weight
#: 1 / (r + 1) ** ZIPF_EXPONENT. Only TT100K's order is known here; an exponent of 1 gives
#: the head-to-tail ratio of roughly 45 : 1 of the 45 evaluated classes.
ZIPF_EXPONENT = 1.0
#: Nothing drawn in front of a sign may hide more than this fraction of it.
MAX_HIDDEN_FRACTION = 0.4
#: A sign may overlap earlier signs with at most this fraction of its own area.
MAX_SIGN_ON_SIGN = 0.3
#: Signs with fewer visible pixels than this are dropped from the labels.
MIN_VISIBLE_PIXELS = 4
#: Upper limit on the number of signs in one image.
MAX_SIGNS = 10
#: Probability that a sign gets an occluder (foliage, branch, pole, wire, board) in front.
OCCLUSION_PROBABILITY = 0.3
#: Expected loss of signs to failed placements, compensated in the count (measured).
PLACEMENT_LOSS = 0.04

CLASS_BALANCES = ("tt100k", "uniform")


def class_weights(classes: Sequence[str], balance: str = "tt100k") -> np.ndarray:
    """Sampling probabilities (C,) float64 for the given classes.

    ``"tt100k"``: TT100K's long tail, a Zipf law over ``BY_FREQUENCY`` ranks (a class
    not ranked there counts as the rarest); ``"uniform"``: every class alike.
    """
    if balance not in CLASS_BALANCES:
        raise ValueError(f"class_balance must be one of {CLASS_BALANCES}, got {balance!r}")
    if balance == "uniform":
        weights = np.ones(len(classes))
    else:
        rank = {name: r for r, name in enumerate(BY_FREQUENCY)}
        weights = np.array([(rank.get(c, len(BY_FREQUENCY)) + 1.0) ** -ZIPF_EXPONENT
                            for c in classes])
    return weights / weights.sum()


def size_bins(image_size: int) -> tuple[tuple[float, float, float], ...]:
    """``SIZE_BINS`` scaled to ``image_size`` (the lowest bound never below MIN_SIGN_PX)."""
    scale = image_size / REFERENCE_SIZE
    bins = [(p, lo * scale, hi * scale) for p, lo, hi in SIZE_BINS]
    p, lo, hi = bins[0]
    bins[0] = (p, max(lo, MIN_SIGN_PX), hi)
    return tuple(bins)


def sample_sign_size(rng: np.random.Generator, image_size: int) -> float:
    """A sign's long side in pixels, from TT100K's three-bin mix.

    Within a bin: uniform below 32 px, log-uniform from 32 to 96 px, and a decaying
    density above 96 px (median about 140 px at 512) since very large signs are rare.
    """
    bins = size_bins(image_size)
    which = rng.choice(len(bins), p=[b[0] for b in bins])
    _, lo, hi = bins[which]
    u = rng.random()
    if which == 0:
        return lo + (hi - lo) * u
    if which == 1:
        return lo * (hi / lo) ** u
    return lo * (hi / lo) ** (u * u)


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
class _Placed:
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


def _fits_budget(placed: Sequence[_Placed], x0: int, y0: int, mask: np.ndarray) -> bool:
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


def _sits_on_another_sign(placed: Sequence[_Placed], x0: int, y0: int,
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


def _cover(placed: Sequence[_Placed], x0: int, y0: int, mask: np.ndarray) -> None:
    """Remove ``mask`` (at x0, y0) from the visible part of every placed sign."""
    for sign in placed:
        where = _overlap(sign.patch.x0, sign.patch.y0, sign.visible, x0, y0, mask)
        if where is not None:
            sign.visible[where[0]] &= ~mask[where[1]]


def _clip_patch(patch: signs.SignPatch, size: int) -> signs.SignPatch:
    """The part of a patch inside a size x size image."""
    h, w = patch.mask.shape
    x0, y0 = max(patch.x0, 0), max(patch.y0, 0)
    x1, y1 = min(patch.x0 + w, size), min(patch.y0 + h, size)
    rows, cols = slice(y0 - patch.y0, y1 - patch.y0), slice(x0 - patch.x0, x1 - patch.x0)
    return signs.SignPatch(x0, y0, patch.premultiplied[rows, cols], patch.alpha[rows, cols],
                           patch.mask[rows, cols], patch.outline)


def _count_signs(rng: np.random.Generator, mean: float, empty_fraction: float) -> int:
    """0 with probability ``empty_fraction``, else 1 + Poisson, so the mean is ``mean``."""
    if rng.random() < empty_fraction:
        return 0
    extra = mean * (1 + PLACEMENT_LOSS) / (1 - empty_fraction) - 1
    return int(min(MAX_SIGNS, 1 + rng.poisson(max(extra, 0.0))))


def _split_into_groups(rng: np.random.Generator, count: int) -> list[tuple[str, int]]:
    """Groups of signs sharing a pole: ("single", 1), ("stack", 2 or 3), ("row", 2)."""
    groups = []
    while count > 0:
        r = rng.random()
        if count >= 3 and r < 0.05:
            groups.append(("stack", 3))
        elif count >= 2 and r < 0.3:
            groups.append(("stack", 2))
        elif count >= 2 and r < 0.38:
            groups.append(("row", 2))
        else:
            groups.append(("single", 1))
        count -= groups[-1][1]
    return groups


class SyntheticSigns(Dataset):
    """Synthetic TT100K-style street scenes with traffic signs (map-style dataset).

    Args:
        num_images: number of items (any, the scenes are generated on demand).
        image_size: side of the square images, >= 128; sign sizes scale with it
            (``SIZE_BINS`` hold at 512).
        seed: non-negative integer; item ``i`` is a pure function of ``(seed, i)``.
        classes: "type42", "type45" or an explicit list of drawable categories; a
            label is the index into ``self.classes``.
        class_balance: "tt100k" (long tail) or "uniform" (for ablations).
        signs_per_image: mean number of labelled signs per image, empty ones included.
        empty_fraction: probability that an image has no sign at all.

    Item: (image uint8 tensor (3, H, W) RGB, target) with target "boxes" float32
    (N, 4) xyxy pixels (x2, y2 exclusive), "labels" int64 (N,), "masks" bool (N, H, W),
    "image_id" int (the index).
    """

    def __init__(self, num_images: int, image_size: int = 512, seed: int = 0,
                 classes: str | Sequence[str] = "type42", class_balance: str = "tt100k",
                 signs_per_image: float = 2.5, empty_fraction: float = 0.1):
        if not isinstance(num_images, (int, np.integer)) or num_images < 0:
            raise ValueError(f"num_images must be a non-negative integer, got {num_images!r}")
        if not isinstance(image_size, (int, np.integer)) or image_size < 128:
            raise ValueError(f"image_size must be an integer >= 128, got {image_size!r}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not 0.0 <= empty_fraction < 1.0:
            raise ValueError(f"empty_fraction must be in [0, 1), got {empty_fraction!r}")
        if not (1 - empty_fraction) <= signs_per_image <= MAX_SIGNS * (1 - empty_fraction):
            raise ValueError(
                f"signs_per_image must lie between {1 - empty_fraction:g} and "
                f"{MAX_SIGNS * (1 - empty_fraction):g} with empty_fraction="
                f"{empty_fraction:g}, got {signs_per_image!r}")
        self.classes = resolve_classes(classes)
        unknown = [c for c in self.classes if not signs.is_drawable(c)]
        if unknown:
            raise ValueError(f"classes: no look is known for {', '.join(unknown)}; "
                             f"see mcn.data.signs for the drawable categories")
        self.num_images, self.image_size, self.seed = int(num_images), int(image_size), int(seed)
        self.class_balance = class_balance
        self.weights = class_weights(self.classes, class_balance)
        self.signs_per_image, self.empty_fraction = float(signs_per_image), float(empty_fraction)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return self.num_images

    def __repr__(self) -> str:
        return (f"SyntheticSigns(num_images={self.num_images}, image_size={self.image_size}, "
                f"seed={self.seed}, classes={len(self.classes)} classes, "
                f"class_balance={self.class_balance!r})")

    def _check_index(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        if index < 0:
            index += self.num_images
        if not 0 <= index < self.num_images:
            raise IndexError(f"index {index} out of range for {self.num_images} images")
        return int(index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        index = self._check_index(index)
        scene = self.render(index)
        image = torch.from_numpy(np.ascontiguousarray(scene.image.transpose(2, 0, 1)))
        target = {
            "boxes": torch.from_numpy(scene.boxes),
            "labels": torch.from_numpy(scene.labels),
            "masks": torch.from_numpy(scene.masks),
            "image_id": index,
        }
        return image, target

    def render(self, index: int) -> Scene:
        """The scene of item ``index`` as NumPy arrays."""
        index = self._check_index(index)
        rng = np.random.default_rng([self.seed, index])
        return _render_scene(rng, self.image_size, self.classes, self.weights,
                             _count_signs(rng, self.signs_per_image, self.empty_fraction))

    def tt100k_annotations(self, indices: Sequence[int] | None = None) -> dict[str, Any]:
        """Ground truth of the given items (default: all) in TT100K's annotations.json
        form, for ``mcn.evaluate.tt100k_eval``: {"types", "imgs": {id: {"objects"}}}."""
        indices = range(self.num_images) if indices is None else indices
        imgs = {}
        for index in indices:
            scene = self.render(index)
            objects = [{"category": name,
                        "bbox": dict(zip(("xmin", "ymin", "xmax", "ymax"), map(float, box)))}
                       for name, box in zip(scene.categories, scene.boxes)]
            imgs[str(index)] = {"id": int(index), "path": f"synthetic/{index}.png",
                                "objects": objects}
        return {"types": list(self.classes), "imgs": imgs}


def _group_layout(arrangement: str, sizes: Sequence[float], shapes: Sequence[str],
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


def _place_group(rng: np.random.Generator, image_size: int, band_y: float,
                 arrangement: str, labels: Sequence[int], sizes: Sequence[float],
                 classes: Sequence[str],
                 placed: list[_Placed]) -> tuple[list[_Placed], tuple] | None:
    """Try to place a group of signs after those already ``placed``.

    Returns (every sign with the group's signs appended and the earlier signs' visible
    masks updated, the group's pole), or None if the group would not fit in the image
    or would hide too much of a sign. ``placed`` itself is left untouched.
    """
    shapes = [signs.sign_shape(classes[label]) for label in labels]
    gap = rng.uniform(0.02, 0.12) * max(sizes)
    offsets, width, height = _group_layout(arrangement, sizes, shapes, gap)
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
        patch = _clip_patch(patch, image_size)
        if (not _fits_budget(trial, patch.x0, patch.y0, patch.mask)
                or _sits_on_another_sign(trial, patch.x0, patch.y0, patch.mask)):
            return None
        _cover(trial, patch.x0, patch.y0, patch.mask)  # the new sign is drawn on top
        trial.append(_Placed(label, patch, int(np.count_nonzero(patch.mask)),
                             patch.mask.copy()))
    pole = (cx, cy - height / 2, cy + height / 2, max(sizes))
    return trial, pole


def _draw_pole(image: np.ndarray, rng: np.random.Generator, horizon: int,
               pole: tuple[float, float, float, float]) -> None:
    """A group's pole (x, top, bottom, sign size): mostly from the ground up, sometimes
    hanging from above, sometimes none (a sign on a wall or a gantry out of view)."""
    cx, top, bottom, size = pole
    h = image.shape[0]
    thickness = max(1.0, size * rng.uniform(0.05, 0.1))
    r = rng.random()
    if r < 0.75:  # standing on the ground
        ground = max(horizon, bottom + 0.5 * size)
        scenes.draw_sign_pole(image, rng, cx, top + 0.3 * size, rng.uniform(ground, h + size),
                              thickness)
    elif r < 0.9:  # hanging from a gantry or an arm above
        scenes.draw_sign_pole(image, rng, cx, 0, bottom - 0.3 * size, thickness)


def _weather_the_sign(rng: np.random.Generator, patch: signs.SignPatch) -> None:
    """Per-sign lighting and paint fading, applied to the premultiplied colour."""
    brightness = rng.uniform(0.55, 1.15)
    fade = rng.uniform(0.0, 0.35) if rng.random() < 0.5 else 0.0
    washed = np.array([200.0, 200.0, 195.0], np.float32) * patch.alpha[..., None]
    patch.premultiplied[:] = (patch.premultiplied * (1 - fade) + washed * fade) * brightness


def _draw_distractors(image: np.ndarray, rng: np.random.Generator, band_y: float,
                      classes: Sequence[str]) -> None:
    """One to five unlabelled look-alikes, sized like signs, in the signs' band."""
    image_size = image.shape[0]
    for _ in range(int(rng.integers(1, 6))):
        size = sample_sign_size(rng, image_size)
        x = int(rng.uniform(0, image_size))
        y = int(np.clip(rng.normal(band_y, 0.15 * image_size), 0, image_size))
        if rng.random() < 0.5:  # on a pole too, so that a pole is no give-away
            scenes.draw_sign_pole(image, rng, x, y, rng.uniform(y, image_size + size),
                                  max(1.0, size * 0.07))
        scenes.draw_distractor(image, rng, x, y, size, labelled=classes)


def _place_signs(rng: np.random.Generator, image_size: int, band_y: float,
                 classes: Sequence[str], weights: np.ndarray,
                 num_signs: int) -> tuple[list[_Placed], list[tuple]]:
    """Choose classes, sizes and positions of the signs, group by group (nothing is
    painted yet); returns the placed signs in drawing order and the groups' poles."""
    groups = []
    for arrangement, count in _split_into_groups(rng, num_signs):
        labels = rng.choice(len(classes), size=count, p=weights)
        first = sample_sign_size(rng, image_size)
        sizes = [first] + [first * rng.uniform(0.85, 1.15) for _ in range(count - 1)]
        if count > 1 and 1.15 * sum(sizes) > 0.9 * image_size:
            # Too large to share a pole inside this image: place them one by one.
            groups += [("single", [label], [size]) for label, size in zip(labels, sizes)]
        else:
            groups.append((arrangement, list(labels), sizes))
    # Large groups first: they are the hardest to fit, and small signs drawn later may
    # overlap their edges rather than being hidden behind them.
    groups.sort(key=lambda group: -max(group[2]))
    placed: list[_Placed] = []
    poles = []
    for arrangement, labels, sizes in groups:
        for _attempt in range(10):  # a group that never fits is left out
            result = _place_group(rng, image_size, band_y, arrangement, labels, sizes,
                                  classes, placed)
            if result is not None:
                placed, pole = result
                poles.append(pole)
                break
    return placed, poles


def _occlude(image: np.ndarray, rng: np.random.Generator, placed: list[_Placed]) -> None:
    """Paint occluders in front of some signs, within every sign's occlusion budget."""
    shape = image.shape[:2]
    for target in list(placed):
        if rng.random() >= OCCLUSION_PROBABILITY:
            continue
        ys, xs = np.nonzero(target.visible)
        box = (target.patch.x0 + xs.min(), target.patch.y0 + ys.min(),
               target.patch.x0 + xs.max() + 1, target.patch.y0 + ys.max() + 1)
        for _attempt in range(3):
            occluder = scenes.make_occluder(rng, shape, box)
            if _fits_budget(placed, occluder.x0, occluder.y0, occluder.mask):
                scenes.paint_occluder(image, occluder)
                _cover(placed, occluder.x0, occluder.y0, occluder.mask)
                break


def _render_scene(rng: np.random.Generator, image_size: int, classes: Sequence[str],
                  weights: np.ndarray, num_signs: int) -> Scene:
    """Paint one scene, back to front: street, look-alikes, poles, signs, occluders,
    camera. Every random choice comes from ``rng``, in a fixed order."""
    background = scenes.paint_background(rng, image_size, image_size)
    image = background.image
    band_y = rng.uniform(0.25, 0.6) * image_size  # where this street's signs hang
    _draw_distractors(image, rng, band_y, classes)
    placed, poles = _place_signs(rng, image_size, band_y, classes, weights, num_signs)
    for pole in poles:
        _draw_pole(image, rng, background.horizon, pole)
    for sign in placed:
        _weather_the_sign(rng, sign.patch)
        scenes.blend_patch(image, sign.patch)
    _occlude(image, rng, placed)
    image = scenes.camera_effects(image, rng)
    return _collect(image, placed, classes)


def _collect(image: np.ndarray, placed: Sequence[_Placed], classes: Sequence[str]) -> Scene:
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
