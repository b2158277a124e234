"""The stem: from the image to the stride-4 grid the hourglasses work on (CornerNet,
Law and Deng, ECCV 2018; Mask-CornerNet, Yang, Fan and Guo, 2020).

    7x7 conv, stride 2, 3 -> c0, BN, ReLU        (B, c0, H/2, W/2)
    residual block, stride 2, c0 -> c1           (B, c1, H/4, W/4)

    residual block, stride 2, c1 -> c1           (B, c1, H/8, W/8)   stride 8 only

The published CornerNet-Squeeze has that third stride-2 residual block and works at
stride 8 (64x64 heatmaps from 512x512 images). Mask-CornerNet predicts 128x128 heatmaps
from 512x512 images, i.e. stride 4, so its stem drops the block and is back at the
original CornerNet stem (c0 = 128, c1 = 256); ``stride=8`` builds the published one.
Taught in chapter 4.
"""

from __future__ import annotations

import torch
from torch import nn

from mcn.nn.conv import ConvBNReLU, conv_bn_params
from mcn.nn.residual import Residual, residual_params

STEM_STRIDE = 4  # Mask-CornerNet's; CornerNet-Squeeze's is 8
STEM_STRIDES = (4, 8)


def _check_stride(stride: int) -> None:
    if stride not in STEM_STRIDES:
        raise ValueError(f"Stem: stride must be 4 (Mask-CornerNet) or 8 (CornerNet-Squeeze), got {stride}")


class Stem(nn.Module):
    """(B, 3, H, W) -> (B, channels[1], H/stride, W/stride), stride 4 or 8."""

    def __init__(self, channels: tuple[int, int] = (128, 256), in_channels: int = 3,
                 stride: int = STEM_STRIDE) -> None:
        super().__init__()
        _check_stride(stride)
        self.stride = stride
        self.conv = ConvBNReLU(in_channels, channels[0], 7, stride=2)
        self.residual = Residual(channels[0], channels[1], stride=2)
        # CornerNet-Squeeze's third block; absent (None) at stride 4, so stride-4
        # checkpoints keep their parameter names.
        self.residual_2 = Residual(channels[1], channels[1], stride=2) if stride == 8 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.residual(self.conv(x))
        return x if self.residual_2 is None else self.residual_2(x)


def stem_params(channels: tuple[int, int] = (128, 256), in_channels: int = 3,
                stride: int = STEM_STRIDE) -> int:
    """Parameters of ``Stem(channels, in_channels, stride)``."""
    _check_stride(stride)
    count = conv_bn_params(in_channels, channels[0], 7) + residual_params(channels[0], channels[1], stride=2)
    if stride == 8:
        count += residual_params(channels[1], channels[1], stride=2)
    return count
