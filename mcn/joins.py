"""Boxes that join two objects: one sign's top-left corner paired with another's bottom-right.

CornerNet (Law and Deng, ECCV 2018) pairs a top-left and a bottom-right corner when
their classes agree and their embeddings are close (``mcn.corners``). Two signs of one
class side by side or one above the other have four right corners and, when the
embeddings fail to keep them apart, a fifth box from the first sign's top-left to the
second's bottom-right. Such a box reuses corners of two smaller boxes the decoder also
found, each the right box of one sign. This module finds it by that pattern:

    a pair X is joined when there are two other pairs Y and Z of its class, each smaller
    than X and scoring at least ``ratio`` times X's score, where Y starts at X's
    top-left corner, Z ends at X's bottom-right corner, and Y and Z do not overlap.

A large sign's own box shows the same pattern when the decoder also pairs its corners
with corners found inside it; ``ratio`` keeps such a box unless those inner pairs score
nearly as high as the sign itself. Corners are compared by their coordinates: both boxes
take a corner's position from the same heatmap peak and offset, so a shared corner has
equal coordinates. Not in the paper; measured in chapter 9 (a quarter of the book
models' false boxes at their operating point join two signs).
"""

from __future__ import annotations

import torch

from mcn.boxes import box_iou

__all__ = ["joined_pairs"]


def joined_pairs(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                 ratio: float = 0.65) -> torch.Tensor:
    """Which pairs of one image join two objects' corners (the rule above).

    Args:
        boxes (D, 4) xyxy, scores (D,) (negative: a rejected pair, never used),
        labels (D,) of the candidate pairs of one image.
        ratio: how strong Y and Z must be against X (scores >= ratio * X's score).

    Returns:
        (D,) bool, True for a joined pair.
    """
    if not ratio > 0:
        raise ValueError(f"joined_pairs: ratio must be > 0, got {ratio}")
    valid = scores >= 0
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    # helper[x, y]: y may stand for one of x's two objects
    helper = ((labels[:, None] == labels[None, :]) & valid[None, :] & valid[:, None]
              & (area[None, :] < area[:, None]) & (scores[None, :] >= ratio * scores[:, None]))
    starts_at_tl = helper & (boxes[None, :, :2] == boxes[:, None, :2]).all(dim=2)
    ends_at_br = helper & (boxes[None, :, 2:] == boxes[:, None, 2:]).all(dim=2)
    apart = (box_iou(boxes, boxes) == 0).float()  # apart[y, z]: Y and Z do not overlap
    # (starts_at_tl @ apart)[x, z] counts the Ys of x that lie apart from z
    return ((starts_at_tl.float() @ apart > 0) & ends_at_br).any(dim=1)
