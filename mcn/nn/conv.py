"""The convolution building blocks every other layer is made of.

CornerNet (Law and Deng, ECCV 2018) writes nearly every convolution as
conv -> BatchNorm -> ReLU with "same" padding and no convolution bias (BatchNorm's shift
makes a bias redundant). ``ConvBN`` stops before the ReLU, for places where something is
added first (a shortcut, a second branch). Taught in chapter 3.
"""

from __future__ import annotations

from torch import nn


class ConvBN(nn.Sequential):
    """k x k convolution (no bias, "same" padding) followed by BatchNorm.

    (B, cin, H, W) -> (B, cout, H / stride, W / stride), rounded up.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
        )


class ConvBNReLU(nn.Sequential):
    """k x k convolution (no bias, "same" padding), BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


def conv_bn_params(cin: int, cout: int, kernel: int) -> int:
    """Parameters of ``ConvBN``/``ConvBNReLU``: cin * cout * k^2 weights + 2 * cout for BN."""
    return cin * cout * kernel * kernel + 2 * cout


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters of ``module`` (buffers such as BN statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["ConvBN", "ConvBNReLU", "conv_bn_params", "count_parameters"]
