"""Input preparation and augmentation pipelines: letterbox, CornerNet's random crop and
flip, normalisation.

The training recipe follows CornerNet (Law and Deng, "CornerNet: Detecting Objects as
Paired Keypoints", ECCV 2018), which CornerNet-Squeeze and Mask-CornerNet (Yang, Fan and
Guo, 2020) inherit: a crop window of (input size x a random scale in [0.6, 1.3]) around a
random centre, resized to the input size; colour jitter and PCA lighting
(``mcn.data.colour``); normalisation by a fixed mean and std. Taught in chapter 2.

Unlike CornerNet there is no horizontal flip by default: a mirrored traffic sign is
another sign or none (no-left-turn p23 becomes no-right-turn p19, digits read
backwards). ``HorizontalFlip`` takes a class-swap table and flips only images whose
classes all have an entry.

A transform is a small callable ``t(image, target, rng=None) -> (image, target)`` on a
uint8 image tensor (3, H, W) RGB (``Normalize`` alone returns float32). Randomness comes
only from ``rng`` (``mcn.data.rng``); geometric transforms go through ``warp``
(``mcn.data.geometry``), which records in the target's "meta" how to map results back.

MEAN and STD are CornerNet's COCO pixel statistics (db/coco.py of the public code, in
BGR order there; RGB here).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
from torch.utils.data import Dataset

from mcn.data.colour import ColorJitter, Lighting
from mcn.data.geometry import base_meta, size_hw, warp
from mcn.data.rng import item_rng, numpy_rng

#: Per-channel mean and std of image / 255 (RGB), CornerNet's COCO statistics.
MEAN: tuple[float, float, float] = (0.47026115, 0.44719302, 0.40789654)
STD: tuple[float, float, float] = (0.27809835, 0.27408164, 0.28863828)

#: A deliberately small class-swap table for TT100K: classes whose mirror image is
#: itself (pn, pne: symmetric designs) or the other of a pair (p19 <-> p23, no right
#: turn / no left turn). Images holding any other class are never flipped.
TT100K_MIRROR: dict[str, str] = {"pn": "pn", "pne": "pne", "p19": "p23", "p23": "p19"}


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


class Compose:
    """Apply transforms in order, handing each the same random generator."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = numpy_rng(rng, target)
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
        self.size = size_hw(size)
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
        target["meta"] = base_meta(image, target)
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
        self.size = size_hw(size)
        self.scales = (float(scales[0]), float(scales[1]))
        self.border = border
        self.min_size = min_size

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = numpy_rng(rng, target)
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
        rng = numpy_rng(rng, target)
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
        target["meta"] = dict(base_meta(image, target), flipped=True)
        return image.flip(-1), target

    def __repr__(self) -> str:
        return f"HorizontalFlip(p={self.p})"


class Normalize:
    """uint8 image -> float32 normalised by MEAN and STD (the model's input); keeps "meta"."""

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        target = dict(target)
        target["meta"] = base_meta(image, target)
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
