"""Augmentation and input preparation: letterbox, CornerNet's random crop, colour, lighting.

The training recipe follows CornerNet (Law and Deng, "CornerNet: Detecting Objects as
Paired Keypoints", ECCV 2018), which CornerNet-Squeeze and Mask-CornerNet (Yang, Fan and
Guo, 2020) inherit: a crop window of (input size x a random scale in [0.6, 1.3]) around a
random centre, resized to the input size; colour jitter of brightness, contrast and
saturation by up to +-40 % in random order; AlexNet-style PCA lighting noise (Krizhevsky
et al., 2012) with standard deviation 0.1; normalisation by a fixed mean and std.

Unlike CornerNet there is no horizontal flip by default: a mirrored traffic sign is
another sign or none (no-left-turn p23 becomes no-right-turn p19, digits read
backwards). ``HorizontalFlip`` takes a class-swap table and flips only images whose
classes all have an entry.

Conventions
-----------
* A transform is a small callable ``t(image, target, rng=None) -> (image, target)`` on
  a uint8 image tensor (3, H, W) RGB (``Normalize`` alone returns float32). Randomness
  comes only from ``rng`` (a numpy or torch Generator); without one it is derived from
  the item's "image_id", so a pipeline is reproducible. ``TransformedDataset`` derives it
  from (seed, epoch, index) so every epoch sees new, yet repeatable, augmentations.
* Geometric transforms are a scale s and a shift t: output = s * input + t, in
  continuous coordinates (pixel column j covers [j, j + 1)). Image, masks, boxes and
  "ignore_boxes" move together; afterwards each box is recomputed as the extent of its
  transformed mask, so boxes stay tight; objects whose mask vanishes or is thinner than
  ``min_size`` pixels are dropped. The target's "meta" records the combined mapping
  (the letterbox contract): original = (input - pad) / scale.

Constants (facts taken from the public CornerNet code, db/coco.py, where they are in
OpenCV's BGR order; here they are reordered to RGB): MEAN, STD, EIGVAL, EIGVEC are the
COCO pixel statistics and the eigen-decomposition of their colour covariance.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

#: Per-channel mean and std of image / 255 (RGB), CornerNet's COCO statistics.
MEAN: tuple[float, float, float] = (0.47026115, 0.44719302, 0.40789654)
STD: tuple[float, float, float] = (0.27809835, 0.27408164, 0.28863828)
#: Eigenvalues and eigenvectors (columns; rows are R, G, B) of the colour covariance.
EIGVAL: tuple[float, float, float] = (0.2141788, 0.01817699, 0.00341571)
EIGVEC: tuple[tuple[float, float, float], ...] = (
    (-0.56089297, 0.71832671, 0.41158938),
    (-0.5832747, 0.00994535, -0.81221408),
    (-0.58752847, -0.69563484, 0.41340352),
)
#: Greyscale weights (ITU-R BT.601, as OpenCV's RGB2GRAY).
GREY_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)

#: A deliberately small class-swap table for TT100K: classes whose mirror image is
#: itself (pn, pne: symmetric designs) or the other of a pair (p19 <-> p23, no right
#: turn / no left turn). Images holding any other class are never flipped.
TT100K_MIRROR: dict[str, str] = {"pn": "pn", "pne": "pne", "p19": "p23", "p23": "p19"}


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------


def _channel_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (3, 1, 1)
    mean = torch.tensor(MEAN, dtype=torch.float32, device=image.device).view(shape)
    std = torch.tensor(STD, dtype=torch.float32, device=image.device).view(shape)
    return mean, std


def normalize(image: torch.Tensor) -> torch.Tensor:
    """uint8 image(s) (..., 3, H, W) -> float32 (image / 255 - MEAN) / STD."""
    if image.dtype != torch.uint8:
        raise TypeError(f"normalize expects a uint8 image, got {image.dtype}")
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f"normalize expects (..., 3, H, W), got shape {tuple(image.shape)}")
    mean, std = _channel_stats(image)
    return (image.float() / 255.0 - mean) / std


def denormalize(image: torch.Tensor) -> torch.Tensor:
    """Undo ``normalize`` for display: float (..., 3, H, W) -> uint8, clipped to [0, 255]."""
    if not image.is_floating_point():
        raise TypeError(f"denormalize expects a float image, got {image.dtype}")
    mean, std = _channel_stats(image)
    return ((image.float() * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)


# --------------------------------------------------------------------------------------
# Random generators
# --------------------------------------------------------------------------------------


def item_rng(key: Any = None, seed: int = 0, epoch: int = 0) -> np.random.Generator:
    """A numpy Generator fixed by (seed, epoch, key); ``key`` is an index or image id.

    Uses a CRC of ``str(key)`` (not Python's ``hash``, which changes between runs).
    """
    return np.random.default_rng([int(seed), int(epoch), zlib.crc32(str(key).encode())])


def _numpy_rng(rng: Any, target: Mapping[str, Any]) -> np.random.Generator:
    if rng is None:
        return item_rng(target.get("image_id"))
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=rng)))
    raise TypeError(f"rng should be a numpy or torch Generator, got {type(rng).__name__}")


# --------------------------------------------------------------------------------------
# Boxes from masks and the geometric core
# --------------------------------------------------------------------------------------


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight boxes (N, 4) float32 xyxy of bool masks (N, H, W); x2, y2 exclusive.

    An empty mask gives (0, 0, 0, 0).
    """
    height, width = masks.shape[1:]
    cols, rows = masks.any(dim=1), masks.any(dim=2)  # (N, W), (N, H)
    x1 = cols.float().argmax(dim=1)
    x2 = width - cols.flip(1).float().argmax(dim=1)
    y1 = rows.float().argmax(dim=1)
    y2 = height - rows.flip(1).float().argmax(dim=1)
    boxes = torch.stack([x1, y1, x2, y2], dim=1).float()
    return boxes * cols.any(dim=1, keepdim=True)


def _resample(src: np.ndarray, scale: float, shift: tuple[float, float],
              out_hw: tuple[int, int], antialias: bool = True) -> np.ndarray:
    """Sample ``src`` so that output = scale * input + shift (continuous coordinates)."""
    if antialias and scale < 0.5 and min(src.shape[:2]) >= 2 * int(1 / scale):
        # Average k x k blocks first (exactly x -> x / k), so that the bilinear step
        # below shrinks by at most 2 and does not alias.
        k = int(1 / scale)
        src = cv2.resize(src, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA)
        scale *= k
    # OpenCV's integer coordinates are pixel centres, i.e. continuous coordinate - 0.5.
    offset = 0.5 * scale - 0.5
    matrix = np.array([[scale, 0.0, shift[0] + offset], [0.0, scale, shift[1] + offset]])
    return cv2.warpAffine(src, matrix, (out_hw[1], out_hw[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _warp_mask(mask: np.ndarray, scale: float, shift: tuple[float, float],
               out_hw: tuple[int, int]) -> np.ndarray:
    """One bool mask through the mapping; only the mask's own region is resampled."""
    out = np.zeros(out_hw, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return out
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    x0 = max(math.floor(scale * c0 + shift[0]), 0)
    x1 = min(math.ceil(scale * c1 + shift[0]), out_hw[1])
    y0 = max(math.floor(scale * r0 + shift[1]), 0)
    y1 = min(math.ceil(scale * r1 + shift[1]), out_hw[0])
    if x1 <= x0 or y1 <= y0:
        return out
    region = mask[r0:r1, c0:c1].astype(np.float32)
    local_shift = (scale * c0 + shift[0] - x0, scale * r0 + shift[1] - y0)
    # A mask pixel is set where the bilinear sample at its centre is at least one half.
    warped = _resample(region, scale, local_shift, (y1 - y0, x1 - x0), antialias=False)
    out[y0:y1, x0:x1] = warped >= 0.5
    return out


def _base_meta(image: torch.Tensor, target: Mapping[str, Any]) -> dict[str, Any]:
    meta = target.get("meta")
    if meta is not None:
        return dict(meta)
    return {"scale": 1.0, "pad": (0.0, 0.0), "orig_size": tuple(image.shape[1:])}


def _filter_objects(target: dict[str, Any], keep: torch.Tensor) -> None:
    for key in ("boxes", "labels", "masks"):
        if key in target:
            target[key] = target[key][keep]


def _clip_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    limits = torch.tensor([width, height, width, height], dtype=boxes.dtype)
    return torch.minimum(boxes.clamp(min=0), limits)


def warp(image: torch.Tensor, target: Mapping[str, Any], scale: float,
         shift: tuple[float, float], out_hw: tuple[int, int],
         min_size: float = 1.0) -> tuple[torch.Tensor, dict[str, Any]]:
    """Map image and target by output = scale * input + shift onto an out_hw canvas.

    Args:
        image: uint8 (3, H, W). target: dataset target (boxes, labels, masks, ...).
        scale: output pixels per input pixel. shift: (x, y) in output pixels.
        out_hw: (height, width) of the output. min_size: objects whose transformed
            mask is empty or whose box is narrower or lower than this are dropped.
    Returns the uint8 image (3, out_h, out_w) and a new target with boxes recomputed
    from the masks, "ignore_boxes" mapped and clipped, and "meta" updated.
    """
    # Channel planes of a (3, H, W) tensor are contiguous: resampling them one by one
    # avoids transposing the whole image to OpenCV's (H, W, 3) layout and back.
    planes = image.cpu().contiguous().numpy()
    out_image = torch.from_numpy(np.stack([_resample(p, scale, shift, out_hw) for p in planes]))
    target = dict(target)
    height, width = out_hw
    affine = torch.tensor([scale, scale, scale, scale])
    offset = torch.tensor([shift[0], shift[1], shift[0], shift[1]])
    if "masks" in target:
        masks = target["masks"].cpu().numpy()
        warped = [_warp_mask(m, scale, shift, out_hw) for m in masks]
        target["masks"] = (torch.from_numpy(np.stack(warped)) if warped
                           else torch.zeros((0, height, width), dtype=torch.bool))
        target["boxes"] = masks_to_boxes(target["masks"])
    elif "boxes" in target:  # a box-only dataset: move the boxes themselves
        target["boxes"] = _clip_boxes(target["boxes"].float() * affine + offset, height, width)
    if "boxes" in target:
        sizes = target["boxes"][:, 2:] - target["boxes"][:, :2]
        keep = (sizes >= min_size).all(dim=1) & (sizes > 0).all(dim=1)
        _filter_objects(target, keep)
    if "ignore_boxes" in target:
        ignore = _clip_boxes(target["ignore_boxes"].float() * affine + offset, height, width)
        target["ignore_boxes"] = ignore[((ignore[:, 2:] - ignore[:, :2]) > 0).all(dim=1)]
    meta = _base_meta(image, target)
    meta["scale"] = float(meta["scale"]) * scale
    meta["pad"] = (float(meta["pad"][0]) * scale + shift[0],
                   float(meta["pad"][1]) * scale + shift[1])
    target["meta"] = meta
    return out_image, target


def _size_hw(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f"size should be an int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def map_boxes_to_original(boxes: torch.Tensor, meta: Mapping[str, Any]) -> torch.Tensor:
    """Boxes (N, 4) in input pixels back to the original image: (x - pad) / scale, clipped."""
    pad_x, pad_y = meta["pad"]
    height, width = meta["orig_size"]
    pad = torch.tensor([pad_x, pad_y, pad_x, pad_y], dtype=torch.float32, device=boxes.device)
    original = (boxes.float() - pad) / float(meta["scale"])
    limits = torch.tensor([width, height, width, height], dtype=torch.float32,
                          device=boxes.device)
    return torch.minimum(original.clamp(min=0), limits)


# --------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------


class Compose:
    """Apply transforms in order, handing each the same random generator."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = _numpy_rng(rng, target)
        target = dict(target)
        for transform in self.transforms:
            image, target = transform(image, target, rng=rng)
        return image, target

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class Letterbox:
    """Resize keeping the aspect ratio to fit ``size``, centred on a black canvas.

    The deterministic input transform for evaluation and prediction; "meta" records
    scale and pad so detections map back to the original image.
    """

    def __init__(self, size: int | Sequence[int], scale_up: bool = True, min_size: float = 1.0):
        self.size = _size_hw(size)
        self.scale_up = scale_up
        self.min_size = min_size

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        out_h, out_w = self.size
        height, width = image.shape[1:]
        scale = min(out_h / height, out_w / width)
        if not self.scale_up:
            scale = min(scale, 1.0)
        # Whole-pixel padding keeps the image sharp (no half-pixel resampling shift).
        shift = (float((out_w - round(width * scale)) // 2),
                 float((out_h - round(height * scale)) // 2))
        return warp(image, target, scale, shift, self.size, self.min_size)

    def __repr__(self) -> str:
        return f"Letterbox(size={self.size}, scale_up={self.scale_up})"


class PadToMultiple:
    """Pad right and bottom with black so H and W become multiples of ``multiple``.

    For evaluation at the image's own resolution (no resampling); meta's pad is unchanged.
    """

    def __init__(self, multiple: int):
        if multiple < 1:
            raise ValueError(f"multiple should be a positive int, got {multiple}")
        self.multiple = multiple

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        height, width = image.shape[1:]
        out_h = -(-height // self.multiple) * self.multiple
        out_w = -(-width // self.multiple) * self.multiple
        padded = image.new_zeros((image.shape[0], out_h, out_w))
        padded[:, :height, :width] = image
        target = dict(target)
        if "masks" in target:
            masks = target["masks"].new_zeros((target["masks"].shape[0], out_h, out_w))
            masks[:, :height, :width] = target["masks"]
            target["masks"] = masks
        target["meta"] = _base_meta(image, target)
        return padded, target

    def __repr__(self) -> str:
        return f"PadToMultiple({self.multiple})"


def _centre_range(border: int, size: int) -> tuple[float, float]:
    """Where a crop centre may fall: ``border`` from the edges, halved for small images."""
    while border > 0 and size - border <= border:
        border //= 2
    return float(border), float(size - border)


class RandomCrop:
    """CornerNet's crop: a window of (size x scale), scale ~ U(0.6, 1.3), around a random
    centre at least ``border`` pixels from the image edges (halved while the image is too
    small), zero-padded where it leaves the image, resized to ``size``."""

    def __init__(self, size: int | Sequence[int], scales: tuple[float, float] = (0.6, 1.3),
                 border: int = 128, min_size: float = 2.0):
        if not 0 < scales[0] <= scales[1]:
            raise ValueError(f"scales should be 0 < low <= high, got {scales}")
        self.size = _size_hw(size)
        self.scales = (float(scales[0]), float(scales[1]))
        self.border = border
        self.min_size = min_size

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = _numpy_rng(rng, target)
        out_h, out_w = self.size
        height, width = image.shape[1:]
        window = rng.uniform(*self.scales)  # window side / output side
        centre_x = rng.uniform(*_centre_range(self.border, width))
        centre_y = rng.uniform(*_centre_range(self.border, height))
        scale = 1.0 / window
        # The centre lands in the middle of the output, rounded to a whole pixel.
        shift = (float(round(out_w / 2 - scale * centre_x)),
                 float(round(out_h / 2 - scale * centre_y)))
        return warp(image, target, scale, shift, self.size, self.min_size)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, scales={self.scales}, border={self.border})"


class HorizontalFlip:
    """Mirror left-right with probability ``p``, renaming classes by ``mirror``.

    ``mirror`` maps a class name to the class its mirror image belongs to (itself for
    symmetric signs). An image holding any class without an entry is left as it is,
    because its mirror image would not be a valid sign of a known class.
    """

    def __init__(self, classes: Sequence[str], mirror: Mapping[str, str] = TT100K_MIRROR,
                 p: float = 0.5):
        classes = list(classes)
        self.p = p
        index = {name: i for i, name in enumerate(classes)}
        # -1 marks "no mirror class": a flip is refused for images containing it.
        self.swap = torch.tensor([index.get(mirror.get(c), -1) for c in classes])

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = _numpy_rng(rng, target)
        if rng.uniform() >= self.p:
            return image, dict(target)
        labels = target.get("labels", torch.zeros(0, dtype=torch.int64))
        new_labels = self.swap[labels]
        if (new_labels < 0).any():
            return image, dict(target)
        target = dict(target)
        width = image.shape[2]
        target["labels"] = new_labels
        if "masks" in target:
            target["masks"] = target["masks"].flip(-1)
        for key in ("boxes", "ignore_boxes"):
            if key in target:
                boxes = target[key].clone()
                boxes[:, [0, 2]] = width - target[key][:, [2, 0]]
                target[key] = boxes
        target["meta"] = dict(_base_meta(image, target), flipped=True)
        return image.flip(-1), target

    def __repr__(self) -> str:
        return f"HorizontalFlip(p={self.p})"


def _greyscale(image: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(GREY_WEIGHTS, dtype=image.dtype, device=image.device)
    return (image * weights.view(3, 1, 1)).sum(dim=0, keepdim=True)


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    return (image * 255.0).round().clamp(0, 255).to(torch.uint8)


class ColorJitter:
    """Brightness, contrast and saturation, each by a factor 1 + U(-v, v), in random order.

    Brightness scales the image; contrast blends it with its mean grey level;
    saturation blends it with its own greyscale version (CornerNet's recipe).
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4):
        self.amounts = {"brightness": brightness, "contrast": contrast,
                        "saturation": saturation}

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = _numpy_rng(rng, target)
        x = image.float() / 255.0
        grey = _greyscale(x)  # CornerNet computes the grey image once, before jittering
        for name in rng.permutation(list(self.amounts)):
            factor = 1.0 + rng.uniform(-self.amounts[name], self.amounts[name])
            if name == "brightness":
                x = x * factor
            elif name == "contrast":
                x = factor * x + (1 - factor) * grey.mean()
            else:
                x = factor * x + (1 - factor) * grey
        return _to_uint8(x), dict(target)

    def __repr__(self) -> str:
        return f"ColorJitter({self.amounts})"


class Lighting:
    """PCA lighting noise: add EIGVEC @ (EIGVAL * alpha), alpha ~ N(0, std^2) per component."""

    def __init__(self, std: float = 0.1):
        self.std = std

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = _numpy_rng(rng, target)
        alpha = rng.normal(0.0, self.std, size=3)
        shift = np.asarray(EIGVEC) @ (np.asarray(EIGVAL) * alpha)  # (3,) RGB offsets
        x = image.float() / 255.0 + torch.tensor(shift, dtype=torch.float32).view(3, 1, 1)
        return _to_uint8(x), dict(target)

    def __repr__(self) -> str:
        return f"Lighting(std={self.std})"


class Normalize:
    """uint8 image -> float32 normalised by MEAN and STD (the model's input); keeps "meta"."""

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        target = dict(target)
        target["meta"] = _base_meta(image, target)
        return normalize(image), target

    def __repr__(self) -> str:
        return "Normalize()"


def train_transform(input_size: int | Sequence[int], flip_classes: Sequence[str] | None = None,
                    mirror: Mapping[str, str] = TT100K_MIRROR) -> Compose:
    """CornerNet's training augmentation ending in the normalised float image.

    Random crop (scale 0.6-1.3) to ``input_size``, colour jitter 0.4, PCA lighting 0.1,
    normalisation. A horizontal flip is added only when ``flip_classes`` (the dataset's
    class list) is given, with the class-swap table ``mirror``.
    """
    steps: list[Callable] = [RandomCrop(input_size)]
    if flip_classes is not None:
        steps.append(HorizontalFlip(flip_classes, mirror))
    steps += [ColorJitter(), Lighting(), Normalize()]
    return Compose(steps)


def eval_transform(input_size: int | Sequence[int]) -> Compose:
    """Letterbox to ``input_size`` and normalise; "meta" maps results back."""
    return Compose([Letterbox(input_size), Normalize()])


class TransformedDataset(Dataset):
    """A dataset whose items pass through ``transform`` with a per-item generator.

    The generator is ``item_rng(index, seed, epoch)``: call ``set_epoch`` at the start
    of each epoch for fresh augmentations; the same (seed, epoch, index) always gives the
    same item, whatever the number of DataLoader workers.
    """

    def __init__(self, dataset: Any, transform: Callable, seed: int = 0):
        self.dataset = dataset
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.classes = getattr(dataset, "classes", None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image, target = self.dataset[index]
        return self.transform(image, target, rng=item_rng(index, self.seed, self.epoch))
