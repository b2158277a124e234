"""The convolution building blocks every other layer is made of.

CornerNet (Law and Deng, ECCV 2018) writes nearly every convolution as
conv -> BatchNorm -> ReLU with "same" padding and no convolution bias (BatchNorm's shift
makes a bias redundant). ``ConvBN`` stops before the ReLU, for places where something is
added first (a shortcut, a second branch). Taught in chapter 3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SubsampledPointwiseConv(nn.Conv2d):
    """A 1x1 convolution with stride s, computed as it reads its input: every s-th pixel
    of every s-th row, then a stride-1 1x1 convolution.

    (B, cin, H, W) -> (B, cout, ceil(H / s), ceil(W / s)); the same weights (and state
    dict) and the same outputs as ``nn.Conv2d(cin, cout, 1, stride=s)``. Why: PyTorch's
    CPU kernels send a strided 1x1 convolution to a slow generic path (and its
    channels_last backward corrupts memory in torch 2.13), a stride-1 one to a plain
    matrix product (``mcn bench train_step``).
    """

    def __init__(self, cin: int, cout: int, stride: int, bias: bool = False) -> None:
        super().__init__(cin, cout, 1, stride=stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = self.stride
        return F.conv2d(x[:, :, ::rows, ::cols], self.weight, self.bias)


def conv2d(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A k x k convolution with "same" padding and no bias; a strided 1x1 one subsamples
    first (``SubsampledPointwiseConv``, same weights and outputs)."""
    if kernel == 1 and stride > 1:
        return SubsampledPointwiseConv(cin, cout, stride)
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups,
                     bias=False)


class ConvBN(nn.Sequential):
    """k x k convolution (no bias, "same" padding) followed by BatchNorm.

    (B, cin, H, W) -> (B, cout, H / stride, W / stride), rounded up.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(conv2d(cin, cout, kernel, stride), nn.BatchNorm2d(cout))


class ConvBNReLU(nn.Sequential):
    """k x k convolution (no bias, "same" padding), BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(conv2d(cin, cout, kernel, stride), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def conv_bn_params(cin: int, cout: int, kernel: int) -> int:
    """Parameters of ``ConvBN``/``ConvBNReLU``: cin * cout * k^2 weights + 2 * cout for BN."""
    return cin * cout * kernel * kernel + 2 * cout


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters of ``module`` (buffers such as BN statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["ConvBN", "ConvBNReLU", "SubsampledPointwiseConv", "conv2d", "conv_bn_params",
           "count_parameters"]
