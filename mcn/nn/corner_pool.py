"""Corner pooling (Law and Deng, "CornerNet: Detecting Objects as Paired Keypoints",
ECCV 2018), in the form used by CornerNet-Squeeze (Law et al., "CornerNet-Lite", 2019)
and Mask-CornerNet (Yang, Fan and Guo, 2020).

A box's top-left corner usually lies outside the object: nothing at that pixel says
"object here". Corner pooling brings the evidence to it. For the top-left corner,
every position takes the maximum of the features *below* it (top pool) and the
maximum of the features *to its right* (left pool); the sum of the two is large where
an object's top edge and left edge both start, which is the corner.

Direction names follow the reference implementation (named after the edge they serve):

* ``top``:    out[..., i, j] = max over rows    k >= i of x[..., k, j]
* ``left``:   out[..., i, j] = max over columns k >= j of x[..., i, k]
* ``bottom``: out[..., i, j] = max over rows    k <= i of x[..., k, j]
* ``right``:  out[..., i, j] = max over columns k <= j of x[..., i, k]

Each is a running maximum along one axis, which ``torch.cummax`` computes in a single
pass (flipping first for top/left, whose maximum runs from the far end). It works for
every floating dtype on every device, and autograd sends each output's gradient to the
input position that held the maximum. Taught in chapter 5.
"""

from __future__ import annotations

import torch
from torch import nn

from mcn.nn.conv import ConvBN, ConvBNReLU, conv_bn_params

DIRECTIONS = ("top", "left", "bottom", "right")


def corner_pool(x: torch.Tensor, direction: str) -> torch.Tensor:
    """Running maximum of ``x`` (..., H, W) along one spatial axis; same shape and dtype.

    ``direction`` is one of top, left, bottom, right (see the module docstring).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"corner_pool: direction must be one of {DIRECTIONS}, got {direction!r}")
    if x.dim() < 2:
        raise ValueError(f"corner_pool: x needs at least 2 dimensions (..., H, W), got shape {tuple(x.shape)}")
    dim = -2 if direction in ("top", "bottom") else -1
    # top and left look towards the far end of the axis: scan it backwards.
    from_far_end = direction in ("top", "left")
    if from_far_end:
        x = x.flip(dim)
    out = torch.cummax(x, dim=dim).values
    if from_far_end:
        out = out.flip(dim)
    return out


class CornerPool(nn.Module):
    """The corner pooling module of CornerNet: two pooled branches, a shortcut, a conv.

    ``directions`` = ("top", "left") for the top-left corner, ("bottom", "right") for the
    bottom-right one. Layout (channels for the paper preset, 256 in, 128 pooled):

        a = pool_1(conv3x3-BN-ReLU(x))      (B, pool_channels, H, W)
        b = pool_2(conv3x3-BN-ReLU(x))
        y = ReLU(conv3x3-BN(a + b) + conv1x1-BN(x))
        out = conv3x3-BN-ReLU(y)            (B, channels, H, W)
    """

    def __init__(self, channels: int, pool_channels: int, directions: tuple[str, str]) -> None:
        super().__init__()
        if len(directions) != 2 or any(d not in DIRECTIONS for d in directions):
            raise ValueError(f"CornerPool: directions must be two of {DIRECTIONS}, got {directions!r}")
        self.directions = tuple(directions)
        self.branch_1 = ConvBNReLU(channels, pool_channels, 3)
        self.branch_2 = ConvBNReLU(channels, pool_channels, 3)
        self.merge = ConvBN(pool_channels, channels, 3)
        self.shortcut = ConvBN(channels, channels, 1)
        self.out = ConvBNReLU(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled_1 = corner_pool(self.branch_1(x), self.directions[0])
        pooled_2 = corner_pool(self.branch_2(x), self.directions[1])
        y = torch.relu(self.merge(pooled_1 + pooled_2) + self.shortcut(x))
        return self.out(y)

    def extra_repr(self) -> str:
        return f"directions={self.directions}"


def corner_pool_params(channels: int, pool_channels: int) -> int:
    """Number of parameters of ``CornerPool(channels, pool_channels, ...)``."""
    return (
        2 * conv_bn_params(channels, pool_channels, 3)
        + conv_bn_params(pool_channels, channels, 3)
        + conv_bn_params(channels, channels, 1)
        + conv_bn_params(channels, channels, 3)
    )

