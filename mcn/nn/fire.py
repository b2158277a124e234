"""The fire module of CornerNet-Squeeze (Law, Teng, Russakovsky and Deng, "CornerNet-Lite:
Efficient Keypoint Based Object Detection", arXiv:1904.08900, 2019), after SqueezeNet's
fire module, and the SGE-fire of Mask-CornerNet (Yang, Fan and Guo, 2020, Fig. 3).

A fire module replaces the 3x3 residual block of the original hourglass with something
much cheaper::

    squeeze: 1x1 conv cin -> cout/2, BatchNorm            (no ReLU, as in the reference)
    expand:  [1x1 conv cout/2 -> cout/2  |  3x3 depthwise conv on cout/2]  concatenated,
             both with the module's stride, then BatchNorm over the cout channels
    out:     ReLU(expand + x)   when stride == 1 and cin == cout (the identity fits)
             ReLU(expand)       otherwise (no projection shortcut: that would cost what the
                                squeeze saved)

The SGE-fire inserts Spatial Group-wise Enhance after the expand BatchNorm, before the
skip addition, the same place SGE takes in a ResNet bottleneck: it costs 2 parameters
per group. Taught in chapter 3.
"""

from __future__ import annotations

import torch
from torch import nn

from mcn.nn.conv import conv2d
from mcn.nn.sge import SpatialGroupEnhance, sge_params


class Fire(nn.Module):
    """Fire module; (B, cin, H, W) -> (B, cout, H/stride, W/stride).

    ``sge_groups``: None for the plain CornerNet-Squeeze module, or the number of SGE
    groups (``cout`` must be divisible by it) for Mask-CornerNet's SGE-fire.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, sge_groups: int | None = None) -> None:
        super().__init__()
        if cout % 2 != 0:
            raise ValueError(f"Fire: cout={cout} must be even (the expand halves are cout/2 each)")
        if stride not in (1, 2):
            raise ValueError(f"Fire: stride must be 1 or 2, got {stride}")
        half = cout // 2
        self.squeeze = nn.Conv2d(cin, half, 1, bias=False)
        self.squeeze_bn = nn.BatchNorm2d(half)
        self.expand_1x1 = conv2d(half, half, 1, stride)
        self.expand_3x3 = conv2d(half, half, 3, stride, groups=half)  # depthwise
        self.expand_bn = nn.BatchNorm2d(cout)
        self.sge = SpatialGroupEnhance(sge_groups, channels=cout) if sge_groups else None
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_bn(self.squeeze(x))
        y = torch.cat([self.expand_1x1(s), self.expand_3x3(s)], dim=1)
        y = self.expand_bn(y)
        if self.sge is not None:
            y = self.sge(y)
        if self.skip:
            y = y + x
        return torch.relu(y)


def fire_params(cin: int, cout: int, sge_groups: int | None = None) -> int:
    """Parameters of ``Fire(cin, cout, stride, sge_groups)`` (the stride changes none).

    squeeze cin*cout/2 + BN 2*(cout/2) + expand 1x1 (cout/2)^2 + depthwise 9*(cout/2)
    + BN 2*cout (+ 2*groups for SGE).
    """
    half = cout // 2
    count = cin * half + 2 * half + half * half + 9 * half + 2 * cout
    if sge_groups:
        count += sge_params(sge_groups)
    return count
