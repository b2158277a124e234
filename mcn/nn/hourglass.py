"""The hourglass network (Newell, Yang and Deng, "Stacked Hourglass Networks for Human Pose
Estimation", ECCV 2016) in the fire-module form of CornerNet-Squeeze (Law et al.,
"CornerNet-Lite", 2019), the backbone of Mask-CornerNet (Yang, Fan and Guo, 2020).

An hourglass is defined recursively. At each level with channels dims[0] and
modules[0] fire modules per branch::

    upper branch:  modules[0] fires at full resolution          (dims[0] -> dims[0])
    lower branch:  a stride-2 fire (dims[0] -> dims[1]) and modules[0] - 1 more fires,
                   then the next level (a smaller hourglass, or at the bottom
                   modules[-1] fires at dims[-1]),
                   then modules[0] - 1 fires and a last one back to dims[0],
                   then a 4x4 transposed convolution (stride 2) back to full size
    output:        upper + lower

With dims [256, 256, 384, 384, 512] and modules [2, 2, 2, 2, 4] (the paper's setting)
the hourglass halves the resolution four times, so the input side must be divisible by
16. Downsampling by a strided fire and upsampling by a transposed convolution (instead of
max-pooling and nearest-neighbour upsampling) are CornerNet-Squeeze's choices.

Taught in chapter 4.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mcn.nn.fire import Fire, fire_params


def _fires(cin: int, cout: int, count: int, sge_groups: int | None, first_stride: int = 1) -> nn.Sequential:
    """``count`` fire modules; the first changes cin -> cout and carries the stride."""
    layers = [Fire(cin, cout, stride=first_stride, sge_groups=sge_groups)]
    layers += [Fire(cout, cout, sge_groups=sge_groups) for _ in range(count - 1)]
    return nn.Sequential(*layers)


def _fires_reversed(cin: int, cout: int, count: int, sge_groups: int | None) -> nn.Sequential:
    """``count`` fire modules; the *last* one changes cin -> cout (the way back up)."""
    layers = [Fire(cin, cin, sge_groups=sge_groups) for _ in range(count - 1)]
    layers.append(Fire(cin, cout, sge_groups=sge_groups))
    return nn.Sequential(*layers)


class Hourglass(nn.Module):
    """Recursive fire-module hourglass; (B, dims[0], H, W) -> (B, dims[0], H, W).

    H and W must be divisible by 2 ** (len(dims) - 1).
    """

    def __init__(self, dims: Sequence[int], modules: Sequence[int], sge_groups: int | None = None) -> None:
        super().__init__()
        if len(dims) < 2 or len(dims) != len(modules):
            raise ValueError(
                f"Hourglass: dims and modules need the same length >= 2, got dims={list(dims)} "
                f"modules={list(modules)}"
            )
        if any(m < 1 for m in modules):
            raise ValueError(f"Hourglass: every entry of modules must be >= 1, got {list(modules)}")
        here, below, count = dims[0], dims[1], modules[0]
        self.depth = len(dims) - 1
        self.upper = _fires(here, here, count, sge_groups)
        self.down = _fires(here, below, count, sge_groups, first_stride=2)
        if len(dims) > 2:
            self.inner = Hourglass(dims[1:], modules[1:], sge_groups)
        else:
            self.inner = _fires(below, below, modules[1], sge_groups)
        self.up = _fires_reversed(below, here, count, sge_groups)
        self.upsample = nn.ConvTranspose2d(here, here, kernel_size=4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lower = self.upsample(self.up(self.inner(self.down(x))))
        return self.upper(x) + lower


def hourglass_params(dims: Sequence[int], modules: Sequence[int], sge_groups: int | None = None) -> int:
    """Parameters of ``Hourglass(dims, modules, sge_groups)``, by the same recursion."""
    here, below, count = dims[0], dims[1], modules[0]
    upper = count * fire_params(here, here, sge_groups)
    down = fire_params(here, below, sge_groups) + (count - 1) * fire_params(below, below, sge_groups)
    if len(dims) > 2:
        inner = hourglass_params(dims[1:], modules[1:], sge_groups)
    else:
        inner = modules[1] * fire_params(below, below, sge_groups)
    up = (count - 1) * fire_params(below, below, sge_groups) + fire_params(below, here, sge_groups)
    upsample = here * here * 4 * 4 + here  # transposed conv weights + bias
    return upper + down + inner + up + upsample
