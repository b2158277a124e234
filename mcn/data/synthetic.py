"""SyntheticSigns: street scenes with traffic signs of the TT100K classes, generated.

The Mask-CornerNet paper (Yang, Fan and Guo, 2020) trains and tests on Tsinghua-Tencent
100K (Zhu et al., CVPR 2016), which cannot be downloaded everywhere. This dataset paints
stand-in scenes with the statistics that matter for detection (Zhu et al. 2016):

* sign sizes follow TT100K's long-side mix: 37.9 % below 32 px, 52.2 % from 32 to 96 px,
  9.9 % from 96 to 400 px, in 512 x 512 crops of the full-resolution images (sizes scale
  with ``image_size``);
* about 2.5 signs per image, some images without any sign; the signs' centres cluster in
  a horizontal band; a third of the signs come in pairs stacked on one pole (or side by
  side); classes follow TT100K's long tail;
* mild perspective and rotation, signs and occluders in front of signs, blur, exposure,
  noise and JPEG compression; sign-like distractors that carry no label.

Each object's mask is exact and no sign is hidden so much that it would have to be left
unlabelled (``mcn.data.layout``). The street is ``mcn.data.scenes``, the look-alikes and
occluders ``mcn.data.clutter``.

An item is a pure function of ``(seed, index)``: the random generator is seeded from the
pair, so items are identical across worker counts, call orders and fresh instances.
Taught in chapter 2.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mcn.classes import BY_FREQUENCY, SIZE_BINS as TT100K_SIZE_BINS, SIZE_SHARES, resolve_classes
from mcn.data import clutter, scenes, signs
from mcn.data.layout import Placed, Scene, collect, occlude, place_group
from mcn.data.tt100k_format import tt100k_objects

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
#: Upper limit on the number of signs in one image.
MAX_SIGNS = 10
#: Upper limit on the look-alikes factor (5 x 5 = 25 look-alikes in one scene).
MAX_LOOKALIKE_FACTOR = 5.0
#: Expected loss of signs to failed placements, compensated in the count (measured).
PLACEMENT_LOSS = 0.04

CLASS_BALANCES = ("tt100k", "uniform")


def class_weights(classes: Sequence[str], balance: str = "tt100k",
                  oversample: Mapping[str, float] | None = None) -> np.ndarray:
    """Sampling probabilities (C,) float64 for the given classes.

    ``"tt100k"``: TT100K's long tail, a Zipf law over ``BY_FREQUENCY`` ranks (a class
    not ranked there counts as the rarest); ``"uniform"``: every class alike.
    ``oversample``: class name -> factor on that class's weight before normalising
    (fine-tuning on classes a model confuses, chapter 9).
    """
    if balance not in CLASS_BALANCES:
        raise ValueError(f"class_balance must be one of {CLASS_BALANCES}, got {balance!r}")
    if balance == "uniform":
        weights = np.ones(len(classes))
    else:
        rank = {name: r for r, name in enumerate(BY_FREQUENCY)}
        weights = np.array([(rank.get(c, len(BY_FREQUENCY)) + 1.0) ** -ZIPF_EXPONENT
                            for c in classes])
    _check_factors(oversample or {}, classes, "class", "classes")
    for name, factor in (oversample or {}).items():
        weights[list(classes).index(name)] *= factor
    return weights / weights.sum()


def _check_factors(factors: Mapping[str, float], names: Sequence[str], kind: str,
                  kinds: str) -> None:
    """ValueError naming the first of ``factors`` (name -> oversampling factor) whose
    name is not one of ``names`` (a ``kind``; ``kinds`` in the message) or whose factor
    is not a finite number > 0."""
    for name, factor in factors.items():
        if name not in names:
            raise ValueError(f"oversampled {kind} {name!r} is not one of the {kinds} "
                             f"({', '.join(names)})")
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"oversampling factor {name}={factor:g} must be a finite number > 0")


def size_bins(image_size: int, oversample: Mapping[str, float] | None = None
              ) -> tuple[tuple[float, float, float], ...]:
    """``SIZE_BINS`` scaled to ``image_size`` (the lowest bound never below MIN_SIGN_PX).

    ``oversample``: size bin ("small", "medium", "large") -> factor on its share before
    the shares are normalised again (training on the sizes a model misses, chapter 9).
    """
    scale = image_size / REFERENCE_SIZE
    factors = size_factors(oversample)
    total = sum(p * f for (p, _, _), f in zip(SIZE_BINS, factors)) if oversample else 1.0
    bins = [(p * f / total, lo * scale, hi * scale) for (p, lo, hi), f in zip(SIZE_BINS, factors)]
    p, lo, hi = bins[0]
    bins[0] = (p, max(lo, MIN_SIGN_PX), hi)
    return tuple(bins)


def size_factors(oversample: Mapping[str, float] | None) -> list[float]:
    """Factors on the small, medium and large shares; ValueError naming a bad item."""
    _check_factors(oversample or {}, list(SIZE_SHARES), "size", "size bins")
    return [float((oversample or {}).get(name, 1.0)) for name in SIZE_SHARES]


def sample_sign_size(rng: np.random.Generator, image_size: int,
                     oversample: Mapping[str, float] | None = None) -> float:
    """A sign's long side in pixels, from TT100K's three-bin mix (``size_bins``).

    Within a bin: uniform below 32 px, log-uniform from 32 to 96 px, and a decaying
    density above 96 px (median about 140 px at 512) since very large signs are rare.
    """
    return _draw_size(rng, size_bins(image_size, oversample))


def _draw_size(rng: np.random.Generator, bins: tuple[tuple[float, float, float], ...]) -> float:
    """``sample_sign_size`` from bins already scaled (a scene draws many sizes)."""
    which = rng.choice(len(bins), p=[b[0] for b in bins])
    _, lo, hi = bins[which]
    u = rng.random()
    if which == 0:
        return lo + (hi - lo) * u
    if which == 1:
        return lo * (hi / lo) ** u
    return lo * (hi / lo) ** (u * u)


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
        oversample: class name -> factor on its sampling weight (``class_weights``).
        signs_per_image: mean number of labelled signs per image, empty ones included.
        empty_fraction: probability that an image has no sign at all.
        size_oversample: size bin -> factor on its share of the signs and look-alikes
            (``size_bins``).
        lookalikes: factor on the number of unlabelled look-alikes (one to five a
            scene at 1), the hard negatives of a training mix.

    Item: (image uint8 tensor (3, H, W) RGB, target) with target "boxes" float32
    (N, 4) xyxy pixels (x2, y2 exclusive), "labels" int64 (N,), "masks" bool (N, H, W),
    "image_id" int (the index).
    """

    def __init__(self, num_images: int, image_size: int = 512, seed: int = 0,
                 classes: str | Sequence[str] = "type42", class_balance: str = "tt100k",
                 signs_per_image: float = 2.5, empty_fraction: float = 0.1,
                 oversample: Mapping[str, float] | None = None,
                 size_oversample: Mapping[str, float] | None = None,
                 lookalikes: float = 1.0):
        if not isinstance(num_images, (int, np.integer)) or num_images < 0:
            raise ValueError(f"num_images must be a non-negative integer, got {num_images!r}")
        if not isinstance(image_size, (int, np.integer)) or image_size < 128:
            raise ValueError(f"image_size must be an integer >= 128, got {image_size!r}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not 0.0 <= empty_fraction < 1.0:
            raise ValueError(f"empty_fraction must be in [0, 1), got {empty_fraction!r}")
        if not (np.isfinite(lookalikes) and 0 <= lookalikes <= MAX_LOOKALIKE_FACTOR):
            raise ValueError(f"lookalikes must be a factor in 0-{MAX_LOOKALIKE_FACTOR:g}, "
                             f"got {lookalikes!r}")
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
        self.class_balance, self.oversample = class_balance, dict(oversample or {})
        self.weights = class_weights(self.classes, class_balance, self.oversample)
        self.size_oversample = dict(size_oversample or {})
        self.sign_size_bins = size_bins(self.image_size, self.size_oversample)  # checks it
        self.signs_per_image, self.empty_fraction = float(signs_per_image), float(empty_fraction)
        self.lookalikes = float(lookalikes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return self.num_images

    def __repr__(self) -> str:
        return (f"SyntheticSigns(num_images={self.num_images}, image_size={self.image_size}, "
                f"seed={self.seed}, classes={len(self.classes)} classes, "
                f"class_balance={self.class_balance!r}"
                + (f", oversample={self.oversample}" if self.oversample else "")
                + (f", size_oversample={self.size_oversample}" if self.size_oversample else "")
                + (f", lookalikes={self.lookalikes:g}" if self.lookalikes != 1 else "")
                + ")")

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
                             _count_signs(rng, self.signs_per_image, self.empty_fraction),
                             self.sign_size_bins, self.lookalikes)

    def tt100k_annotations(self, indices: Sequence[int] | None = None) -> dict[str, Any]:
        """Ground truth of the given items (default: all) in TT100K's annotations.json
        form, for ``mcn.evaluate.tt100k_eval``: {"types", "imgs": {id: {"objects"}}}."""
        indices = range(self.num_images) if indices is None else indices
        imgs = {}
        for index in indices:
            scene = self.render(index)
            imgs[str(index)] = {"id": int(index), "path": f"synthetic/{index}.png",
                                **tt100k_objects(scene.boxes, scene.labels, self.classes)}
        return {"types": list(self.classes), "imgs": imgs}


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
        clutter.draw_sign_pole(image, rng, cx, top + 0.3 * size, rng.uniform(ground, h + size),
                              thickness)
    elif r < 0.9:  # hanging from a gantry or an arm above
        clutter.draw_sign_pole(image, rng, cx, 0, bottom - 0.3 * size, thickness)


def _weather_the_sign(rng: np.random.Generator, patch: signs.SignPatch) -> None:
    """Per-sign lighting and paint fading, applied to the premultiplied colour."""
    brightness = rng.uniform(0.55, 1.15)
    fade = rng.uniform(0.0, 0.35) if rng.random() < 0.5 else 0.0
    washed = np.array([200.0, 200.0, 195.0], np.float32) * patch.alpha[..., None]
    patch.premultiplied[:] = (patch.premultiplied * (1 - fade) + washed * fade) * brightness


def _draw_distractors(image: np.ndarray, rng: np.random.Generator, band_y: float,
                      classes: Sequence[str], sign_size_bins: tuple, factor: float) -> None:
    """One to five unlabelled look-alikes (times ``factor``), sized like signs, in the
    signs' band."""
    image_size = image.shape[0]
    for _ in range(round(int(rng.integers(1, 6)) * factor)):
        size = _draw_size(rng, sign_size_bins)
        x = int(rng.uniform(0, image_size))
        y = int(np.clip(rng.normal(band_y, 0.15 * image_size), 0, image_size))
        if rng.random() < 0.5:  # on a pole too, so that a pole is no give-away
            clutter.draw_sign_pole(image, rng, x, y, rng.uniform(y, image_size + size),
                                  max(1.0, size * 0.07))
        clutter.draw_distractor(image, rng, x, y, size, labelled=classes)


def _place_signs(rng: np.random.Generator, image_size: int, band_y: float,
                 classes: Sequence[str], weights: np.ndarray, num_signs: int,
                 sign_size_bins: tuple) -> tuple[list[Placed], list[tuple]]:
    """Choose classes, sizes and positions of the signs, group by group (nothing is
    painted yet); returns the placed signs in drawing order and the groups' poles."""
    groups = []
    for arrangement, count in _split_into_groups(rng, num_signs):
        labels = rng.choice(len(classes), size=count, p=weights)
        first = _draw_size(rng, sign_size_bins)
        sizes = [first] + [first * rng.uniform(0.85, 1.15) for _ in range(count - 1)]
        if count > 1 and 1.15 * sum(sizes) > 0.9 * image_size:
            # Too large to share a pole inside this image: place them one by one.
            groups += [("single", [label], [size]) for label, size in zip(labels, sizes)]
        else:
            groups.append((arrangement, list(labels), sizes))
    # Large groups first: they are the hardest to fit, and small signs drawn later may
    # overlap their edges rather than being hidden behind them.
    groups.sort(key=lambda group: -max(group[2]))
    placed: list[Placed] = []
    poles = []
    for arrangement, labels, sizes in groups:
        for _attempt in range(10):  # a group that never fits is left out
            result = place_group(rng, image_size, band_y, arrangement, labels, sizes,
                                  classes, placed)
            if result is not None:
                placed, pole = result
                poles.append(pole)
                break
    return placed, poles


def _render_scene(rng: np.random.Generator, image_size: int, classes: Sequence[str],
                  weights: np.ndarray, num_signs: int,
                  sign_size_bins: tuple, lookalikes: float) -> Scene:
    """Paint one scene, back to front: street, look-alikes, poles, signs, occluders,
    camera. Every random choice comes from ``rng``, in a fixed order."""
    background = scenes.paint_background(rng, image_size, image_size)
    image = background.image
    band_y = rng.uniform(0.25, 0.6) * image_size  # where this street's signs hang
    _draw_distractors(image, rng, band_y, classes, sign_size_bins, lookalikes)
    placed, poles = _place_signs(rng, image_size, band_y, classes, weights, num_signs,
                                 sign_size_bins)
    for pole in poles:
        _draw_pole(image, rng, background.horizon, pole)
    for sign in placed:
        _weather_the_sign(rng, sign.patch)
        clutter.blend_patch(image, sign.patch)
    occlude(image, rng, placed)
    image = scenes.camera_effects(image, rng)
    return collect(image, placed, classes)
