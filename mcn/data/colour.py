"""Colour augmentation of CornerNet: brightness, contrast, saturation, PCA lighting.

CornerNet (Law and Deng, ECCV 2018), and Mask-CornerNet (Yang, Fan and Guo, 2020) after
it, jitter brightness, contrast and saturation by up to +-40 % in random order and add
AlexNet-style PCA lighting noise (Krizhevsky et al., 2012) with standard deviation 0.1.
EIGVAL and EIGVEC are the eigen-decomposition of the COCO colour covariance from the
public CornerNet code (db/coco.py, in BGR order there; reordered to RGB here). Taught in
chapter 2.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from mcn.data.rng import numpy_rng

#: Eigenvalues and eigenvectors (columns; rows are R, G, B) of the colour covariance.
EIGVAL: tuple[float, float, float] = (0.2141788, 0.01817699, 0.00341571)
EIGVEC: tuple[tuple[float, float, float], ...] = (
    (-0.56089297, 0.71832671, 0.41158938),
    (-0.5832747, 0.00994535, -0.81221408),
    (-0.58752847, -0.69563484, 0.41340352),
)
#: Greyscale weights (ITU-R BT.601, as OpenCV's RGB2GRAY).
GREY_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def _greyscale(image: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(GREY_WEIGHTS, dtype=image.dtype, device=image.device)
    return (image * weights.view(3, 1, 1)).sum(dim=0, keepdim=True)


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    return (image * 255.0).round().clamp(0, 255).to(torch.uint8)


class ColorJitter:
    """Brightness, contrast and saturation, each by a factor 1 + U(-v, v), in random order.

    Brightness scales the image; contrast blends it with its mean grey level;
    saturation blends it with its own greyscale version (CornerNet's recipe).
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4):
        self.amounts = {"brightness": brightness, "contrast": contrast,
                        "saturation": saturation}

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = numpy_rng(rng, target)
        x = image.float() / 255.0
        grey = _greyscale(x)  # CornerNet computes the grey image once, before jittering
        for name in rng.permutation(list(self.amounts)):
            factor = 1.0 + rng.uniform(-self.amounts[name], self.amounts[name])
            if name == "brightness":
                x = x * factor
            elif name == "contrast":
                x = factor * x + (1 - factor) * grey.mean()
            else:
                x = factor * x + (1 - factor) * grey
        return _to_uint8(x), dict(target)

    def __repr__(self) -> str:
        return f"ColorJitter({self.amounts})"


class Lighting:
    """PCA lighting noise: add EIGVEC @ (EIGVAL * alpha), alpha ~ N(0, std^2) per component."""

    def __init__(self, std: float = 0.1):
        self.std = std

    def __call__(self, image: torch.Tensor, target: Mapping[str, Any],
                 rng: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        rng = numpy_rng(rng, target)
        alpha = rng.normal(0.0, self.std, size=3)
        shift = np.asarray(EIGVEC) @ (np.asarray(EIGVAL) * alpha)  # (3,) RGB offsets
        x = image.float() / 255.0 + torch.tensor(shift, dtype=torch.float32).view(3, 1, 1)
        return _to_uint8(x), dict(target)

    def __repr__(self) -> str:
        return f"Lighting(std={self.std})"
