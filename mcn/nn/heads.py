"""The prediction heads of CornerNet (Law and Deng, ECCV 2018), as in CornerNet-Squeeze and
Mask-CornerNet: for each corner type (top-left, bottom-right) three small heads read the
corner-pooled features,

    heatmap    C channels (one per class, no background), logits
    embedding  1 channel, the associative-embedding tag that pairs TL with BR corners
    offset     2 channels, the (x, y) sub-cell position lost to the stride-4 grid

each a 1x1 conv (with bias) -> ReLU -> 1x1 conv. The heatmap's last bias starts at
-2.19 = log(0.1 / 0.9), so every cell first predicts probability 0.1 (Lin et al.'s
focal-loss prior): most cells are negatives, and a 0.5 start would swamp the loss.

Taught in chapter 5.
"""

from __future__ import annotations

import torch
from torch import nn

HEATMAP_BIAS = -2.19


class CornerHead(nn.Module):
    """1x1 conv -> ReLU -> 1x1 conv; (B, channels, H, W) -> (B, out_channels, H, W)."""

    def __init__(self, channels: int, mid_channels: int, out_channels: int, bias_init: float | None = None) -> None:
        super().__init__()
        self.hidden = nn.Conv2d(channels, mid_channels, 1)
        self.out = nn.Conv2d(mid_channels, out_channels, 1)
        if bias_init is not None:
            nn.init.constant_(self.out.bias, bias_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


class CornerHeads(nn.Module):
    """Heatmap, embedding and offset heads for one corner type.

    forward(x) -> (heat (B, C, H, W), emb (B, 1, H, W), off (B, 2, H, W)).
    """

    def __init__(self, channels: int, mid_channels: int, num_classes: int) -> None:
        super().__init__()
        self.heat = CornerHead(channels, mid_channels, num_classes, bias_init=HEATMAP_BIAS)
        self.emb = CornerHead(channels, mid_channels, 1)
        self.off = CornerHead(channels, mid_channels, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.heat(x), self.emb(x), self.off(x)


def corner_head_params(channels: int, mid_channels: int, out_channels: int) -> int:
    """Parameters of ``CornerHead``: two 1x1 convolutions with bias."""
    return channels * mid_channels + mid_channels + mid_channels * out_channels + out_channels


def corner_heads_params(channels: int, mid_channels: int, num_classes: int) -> int:
    """Parameters of ``CornerHeads`` (heatmap + embedding + offset)."""
    return sum(corner_head_params(channels, mid_channels, n) for n in (num_classes, 1, 2))
