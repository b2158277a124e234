"""The stem: from the image to the stride-4 grid the hourglasses work on (CornerNet,
Law and Deng, ECCV 2018; Mask-CornerNet, Yang, Fan and Guo, 2020).

    7x7 conv, stride 2, 3 -> c0, BN, ReLU        (B, c0, H/2, W/2)
    residual block, stride 2, c0 -> c1           (B, c1, H/4, W/4)

CornerNet-Squeeze appends a third, stride-2 residual block to work at stride 8.
Mask-CornerNet predicts 128x128 heatmaps from 512x512 images, i.e. stride 4, so we drop
that block and are back at the original CornerNet stem (c0 = 128, c1 = 256).
"""

from __future__ import annotations

import torch
from torch import nn

from mcn.nn.conv import ConvBNReLU, conv_bn_params
from mcn.nn.residual import Residual, residual_params

STEM_STRIDE = 4


class Stem(nn.Module):
    """(B, 3, H, W) -> (B, channels[1], H/4, W/4)."""

    def __init__(self, channels: tuple[int, int] = (128, 256), in_channels: int = 3) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, channels[0], 7, stride=2)
        self.residual = Residual(channels[0], channels[1], stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(self.conv(x))


def stem_params(channels: tuple[int, int] = (128, 256), in_channels: int = 3) -> int:
    """Parameters of ``Stem(channels, in_channels)``."""
    return conv_bn_params(in_channels, channels[0], 7) + residual_params(channels[0], channels[1], stride=2)
