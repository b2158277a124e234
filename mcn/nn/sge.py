"""Spatial Group-wise Enhance (Li, Hu and Yang, "Spatial Group-wise Enhance: Improving
Semantic Feature Learning in Convolutional Networks", arXiv:1905.09646, 2019), the
attention that Mask-CornerNet (Yang, Fan and Guo, 2020, Eqs. 1-5) puts in its fire
module.

The channels are split into G groups; each group is taken to describe one kind of
feature. Inside a group, positions whose feature vector agrees with the group's
average vector (large dot product) are the ones where that feature is really present,
so they are kept, and the others are damped:

    g   = spatial mean of the group's features             (one vector per group)
    c   = <x(i), g> at every position i                     (similarity map)
    t   = (c - mean(c)) / (std(c) + 1e-5)                   (normalised over positions)
    a   = weight * t + bias                                 (2 parameters per group)
    out = x * sigmoid(a)

``weight`` starts at 0 and ``bias`` at 1, so at initialisation every position of every
group is scaled by the same sigmoid(1) = 0.731: the layer starts as a plain rescaling
and learns where to deviate from it. The standard deviation is the unbiased one over
the H * W positions (as the reference implementation computes it); with a single
position the normalised map is defined as 0 instead of 0/0. Taught in chapter 3.
"""

from __future__ import annotations

import torch
from torch import nn


class SpatialGroupEnhance(nn.Module):
    """SGE attention over ``groups`` channel groups; (B, C, H, W) -> (B, C, H, W).

    ``channels`` is optional: when given, the constructor checks that it is divisible by
    ``groups`` so a bad configuration fails when the model is built, not at the first
    forward pass. Parameters ``weight`` and ``bias`` have shape (1, G, 1, 1).
    """

    def __init__(self, groups: int, channels: int | None = None, eps: float = 1e-5) -> None:
        super().__init__()
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"SpatialGroupEnhance: groups must be a positive int, got {groups!r}")
        if channels is not None and channels % groups != 0:
            raise ValueError(
                f"SpatialGroupEnhance: channels={channels} is not divisible by groups={groups}; "
                f"choose groups among the divisors of {channels}"
            )
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.ones(1, groups, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if c % self.groups != 0:
            raise ValueError(
                f"SpatialGroupEnhance: input has {c} channels, not divisible by groups={self.groups}"
            )
        # (B*G, C/G, H, W): one row per (image, group).
        xg = x.reshape(b * self.groups, c // self.groups, h, w)
        group_mean = xg.mean(dim=(2, 3), keepdim=True)
        similarity = (xg * group_mean).sum(dim=1, keepdim=True)  # (B*G, 1, H, W)
        t = similarity.reshape(b * self.groups, h * w)
        t = t - t.mean(dim=1, keepdim=True)
        # unbiased std needs two positions; with one, t is already 0 and stays 0.
        std = t.std(dim=1, keepdim=True, correction=1 if h * w > 1 else 0)
        t = t / (std + self.eps)
        t = t.reshape(b, self.groups, h, w)
        attention = torch.sigmoid(t * self.weight + self.bias)  # (B, G, H, W)
        attention = attention.reshape(b * self.groups, 1, h, w)
        return (xg * attention).reshape(b, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def sge_params(groups: int) -> int:
    """Parameters of ``SpatialGroupEnhance(groups)``: one scale and one shift per group."""
    return 2 * groups
