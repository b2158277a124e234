"""The residual block of CornerNet's hourglass (Law and Deng, ECCV 2018; after He et al.,
"Deep Residual Learning for Image Recognition", CVPR 2016), used in the stem and between
the stacked hourglasses.

    y = ReLU(BN(conv3x3(x, stride)));  y = BN(conv3x3(y))
    out = ReLU(y + shortcut(x))

The shortcut is the identity when shapes agree, otherwise a strided 1x1 conv + BN
projection. Taught in chapter 3.
"""

from __future__ import annotations

import torch
from torch import nn

from mcn.nn.conv import ConvBN, ConvBNReLU, conv_bn_params


class Residual(nn.Module):
    """Basic residual block; (B, cin, H, W) -> (B, cout, H/stride, W/stride)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU(cin, cout, 3, stride=stride)
        self.conv2 = ConvBN(cout, cout, 3)
        needs_projection = stride != 1 or cin != cout
        self.shortcut = ConvBN(cin, cout, 1, stride=stride) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


def residual_params(cin: int, cout: int, stride: int = 1) -> int:
    """Parameters of ``Residual(cin, cout, stride)``."""
    count = conv_bn_params(cin, cout, 3) + conv_bn_params(cout, cout, 3)
    if stride != 1 or cin != cout:
        count += conv_bn_params(cin, cout, 1)
    return count
