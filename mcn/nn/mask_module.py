"""The mask module of Mask-CornerNet (Yang, Fan and Guo, "Anchor-free object detection with
mask attention", EURASIP J. Image Video Process. 2020, Section 3.3 and Fig. 4).

The paper's description: a 1x1 convolution squeezes the features; they are upsampled to
half the input size; EM attention (Li et al., ICCV 2019) turns them into a segmentation
over C + 1 classes (0 = background), trained with multi-class cross entropy; finally
"the out mask and the original feature map are multiplied by the group elements". Our
layout, (B, D, H, W) features at stride 4 in, the same shape out:

    m      = ReLU(BN(conv1x1(x)))                      (B, M, H, W)     squeeze
    m      = ReLU(BN(convT4x4/2(m)))                   (B, M, 2H, 2W)   upsample (learned)
    m      = EMAU(m)                                   EM attention, T iterations
    logits = conv1x1(m)                                (B, C+1, 2H, 2W) the segmentation
    fg     = 1 - softmax(logits)[background]           (B, 1, 2H, 2W)
    fg     = 2x2 average pool of fg                    (B, 1, H, W)     back to x's grid
    out    = x * (1 + gain_g * fg) for channel group g (B, D, H, W)

Where the paper is vague, these are our choices and reasons:

* **Residual gate, 1 + gain * fg, not x * fg.** A pure product zeroes every feature the
  mask calls background. But a box's corners lie *outside* the silhouette of a round or
  triangular sign, and early in training the mask misses most objects: x * fg would
  erase exactly the evidence the corner heads need, and the detector could not start
  learning until the segmentation had. With 1 + gain * fg the mask can only emphasise;
  the original features always pass.
* **Start as the baseline.** The background logit's bias starts at
  log(C * 0.99 / 0.01), so every pixel begins with background probability 0.99 (most
  pixels of a traffic scene are background; the same prior trick as the focal-loss
  heatmap bias). Then fg is about 0.01 and the gate about 1: at initialisation the
  detector behaves like the variant without the mask, and the emphasis grows as the
  segmentation learns.
* **Group-wise.** The D channels are split into ``groups`` groups (as SGE splits them);
  each group has its own learned ``gain`` (initialised to 1), so groups that describe
  the object can follow the mask strongly while groups that describe context can learn
  to ignore it (gain near 0). That is our reading of "multiplied by the group elements".
* **One foreground map, not per-class maps.** The detector's features are shared by all
  classes; which class a pixel belongs to is the heatmap's job. The sum of the C class
  probabilities (= 1 - background) says where *some* object is, which is what the
  features should emphasise.
* **Gradients flow both ways.** The detection loss reaches the segmentation through fg
  (the paper stresses uninterrupted back-propagation), and the mask loss reaches the
  backbone through the squeeze; nothing is detached.
* **Learned upsampling.** Fig. 4 shows the features "upsampled by multiple convolution
  kernels": a 4x4 transposed convolution, the same one the hourglass uses to go up.
* **Average pooling back down.** Each feature cell covers exactly 2x2 mask cells; their
  mean is the fraction of the cell that is foreground.

Taught in chapter 6.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mcn.nn.conv import ConvBNReLU, conv_bn_params
from mcn.nn.em_attention import EMAU, emau_params

BACKGROUND_PRIOR = 0.99


class MaskModule(nn.Module):
    """Segmentation branch whose foreground map re-weights the features group-wise.

    forward(x (B, channels, H, W)) -> (features (B, channels, H, W),
                                        mask logits (B, num_classes + 1, 2H, 2W)).
    """

    def __init__(
        self,
        channels: int,
        num_classes: int,
        mask_channels: int = 64,
        groups: int = 32,
        bases: int = 64,
        iters: int = 3,
        momentum: float = 0.9,
        lambd: float = 1.0,
        normalise: bool = False,
    ) -> None:
        super().__init__()
        if channels % groups != 0:
            raise ValueError(
                f"MaskModule: channels={channels} is not divisible by groups={groups}; "
                f"choose groups among the divisors of {channels}"
            )
        if num_classes < 1:
            raise ValueError(f"MaskModule: num_classes must be >= 1, got {num_classes}")
        self.groups = groups
        self.num_classes = num_classes
        self.squeeze = ConvBNReLU(channels, mask_channels, 1)
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(mask_channels, mask_channels, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(mask_channels),
            nn.ReLU(inplace=True),
        )
        self.emau = EMAU(mask_channels, bases=bases, iters=iters, momentum=momentum,
                         lambd=lambd, normalise=normalise)
        self.classifier = nn.Conv2d(mask_channels, num_classes + 1, 1)
        self.gain = nn.Parameter(torch.ones(1, groups, 1, 1))
        with torch.no_grad():
            self.classifier.bias.zero_()
            self.classifier.bias[0] = math.log(num_classes * BACKGROUND_PRIOR / (1.0 - BACKGROUND_PRIOR))

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        """Mask logits (B, num_classes + 1, 2H, 2W) for features x (B, channels, H, W)."""
        return self.classifier(self.emau(self.upsample(self.squeeze(x))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.segment(x)
        foreground = 1.0 - F.softmax(logits, dim=1)[:, :1]  # (B, 1, 2H, 2W)
        foreground = F.avg_pool2d(foreground, kernel_size=2)  # (B, 1, H, W)
        gate = 1.0 + self.gain * foreground  # (B, G, H, W)
        b, c, h, w = x.shape
        grouped = x.reshape(b, self.groups, c // self.groups, h, w)
        enhanced = (grouped * gate.unsqueeze(2)).reshape(b, c, h, w)
        return enhanced, logits

    def extra_repr(self) -> str:
        return f"groups={self.groups}, num_classes={self.num_classes}"


def mask_module_params(channels: int, num_classes: int, mask_channels: int = 64, groups: int = 32) -> int:
    """Parameters of ``MaskModule(channels, num_classes, mask_channels, groups, ...)``."""
    squeeze = conv_bn_params(channels, mask_channels, 1)
    upsample = mask_channels * mask_channels * 16 + 2 * mask_channels
    classifier = mask_channels * (num_classes + 1) + (num_classes + 1)
    return squeeze + upsample + emau_params(mask_channels) + classifier + groups
