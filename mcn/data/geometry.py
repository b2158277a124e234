"""The geometric core of the data pipeline: one mapping, output = scale * input + shift,
and its inverse.

CornerNet's crop and the evaluation letterbox (Law and Deng, ECCV 2018) are both a
scale s and a shift t in continuous coordinates (pixel column j covers [j, j + 1)).
``warp`` moves image, masks, boxes and "ignore_boxes" together; afterwards each box is
recomputed as the extent of its transformed mask, so boxes stay tight, and objects whose
mask vanishes or is thinner than ``min_size`` pixels are dropped. The target's "meta"
records the combined mapping; ``LetterboxMeta`` reads it back and maps boxes and masks
from input pixels to the original image: original = (input - pad) / scale. Taught in
chapter 2 (augmentation) and chapter 8 (back to the original image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import torch


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


def base_meta(image: torch.Tensor, target: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the target's "meta", or the identity mapping of ``image`` when it has none."""
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
    meta = base_meta(image, target)
    meta["scale"] = float(meta["scale"]) * scale
    meta["pad"] = (float(meta["pad"][0]) * scale + shift[0],
                   float(meta["pad"][1]) * scale + shift[1])
    target["meta"] = meta
    return out_image, target


def size_hw(size: int | Sequence[int]) -> tuple[int, int]:
    """An output size given as an int (square) or (height, width) -> (height, width)."""
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f"size should be an int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


@dataclass(frozen=True)
class LetterboxMeta:
    """Where an original image sits on the network input: input = scale * original + pad.

    The transforms record it in a target's "meta" as a plain dict (it collates and
    pickles as data); ``from_dict`` reads that dict back and checks it.
    """

    scale: float  # input pixels per original pixel
    pad: tuple[float, float]  # (left, top) in input pixels
    orig_size: tuple[int, int]  # (H, W) of the original image

    @classmethod
    def from_dict(cls, meta: Any, where: str = "letterbox") -> "LetterboxMeta":
        """The metadata dict {"scale", "pad", "orig_size"} of a target; ValueError naming
        ``where`` when a field is missing or the scale is not positive."""
        try:
            scale = float(meta["scale"])
            left, top = (float(v) for v in meta["pad"])
            height, width = (int(v) for v in meta["orig_size"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where} must be a dict with 'scale', 'pad' (left, top) and "
                             f"'orig_size' (H, W); got {meta!r}") from err
        if scale <= 0:
            raise ValueError(f"{where}['scale'] must be > 0, got {scale}")
        return cls(scale, (left, top), (height, width))

    def boxes_to_original(self, boxes: torch.Tensor) -> torch.Tensor:
        """Boxes (N, 4) from input pixels to the original image, clipped to it."""
        if not boxes.is_floating_point():
            boxes = boxes.float()
        left, top = self.pad
        height, width = self.orig_size
        pad = boxes.new_tensor([left, top, left, top])
        limit = boxes.new_tensor([width, height, width, height])
        original = (boxes - pad) / self.scale
        return torch.minimum(original.clamp(min=0), limit)

    def mask_to_original(self, classes: torch.Tensor, stride: int) -> torch.Tensor:
        """A class map (h, w) with ``stride`` input pixels per cell -> int64 (H, W) map
        of the original image (nearest neighbour, the padding cut off)."""
        small = classes.to(torch.uint8).cpu().numpy()
        full = cv2.resize(small, (small.shape[1] * stride, small.shape[0] * stride),
                          interpolation=cv2.INTER_NEAREST)
        height, width = self.orig_size
        # The letterboxed image occupies [top, top + H*scale) x [left, left + W*scale).
        x0, y0 = int(round(self.pad[0])), int(round(self.pad[1]))
        x1, y1 = x0 + int(round(width * self.scale)), y0 + int(round(height * self.scale))
        crop = full[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
        back = cv2.resize(crop, (width, height), interpolation=cv2.INTER_NEAREST)
        return torch.from_numpy(back.astype(np.int64))
