"""Box geometry shared by decoding, multi-scale testing and evaluation.

Boxes are (x1, y1, x2, y2) in pixels with exclusive right and bottom edges, so a box's
width is x2 - x1. Areas are plain products (no +1 pixel), as in the TT100K evaluation
code (Zhu et al., CVPR 2016). Every function takes torch tensors or NumPy arrays and
returns the same kind. Taught in chapter 2 (IoU) and used again in chapters 8 and 10.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Boxes = TypeVar("Boxes", torch.Tensor, np.ndarray)


def _library(boxes: torch.Tensor | np.ndarray):
    """torch for tensors, NumPy for arrays: both spell maximum, minimum and where alike."""
    return torch if torch.is_tensor(boxes) else np


def long_side(boxes: Boxes) -> Boxes:
    """The long side max(width, height) of each box (N, 4) -> (N,)."""
    lib = _library(boxes)
    return lib.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def box_iou(a: Boxes, b: Boxes) -> Boxes:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4) -> (N, M).

    An inverted box has area 0, and two boxes without area have IoU 0 rather than 0/0.
    """
    lib = _library(a)
    area_a = (a[:, 2] - a[:, 0]).clip(min=0) * (a[:, 3] - a[:, 1]).clip(min=0)
    area_b = (b[:, 2] - b[:, 0]).clip(min=0) * (b[:, 3] - b[:, 1]).clip(min=0)
    top_left = lib.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = lib.minimum(a[:, None, 2:], b[None, :, 2:])
    size = (bottom_right - top_left).clip(min=0)  # (N, M, 2) width and height of the overlap
    inter = size[..., 0] * size[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    # The clip keeps 0/0 out of the division; where() then writes 0 for those pairs.
    return lib.where(union > 0, inter / union.clip(min=1e-12), 0.0)
