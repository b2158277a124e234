"""What the view tests share: the classes and sizes of the scenes, random eval-mode outputs
and a model run made of them."""

from __future__ import annotations

import math

import numpy as np
import torch

from mcn import viz as W


CLASSES = ("pl40", "pn", "i5")


SIZE = 128  # a multiple of the tiny preset's input_multiple (64)


STRIDE = 4


def random_outputs(num_classes=3, side=8, seed=0):
    """Eval-mode outputs of one image with distinct random values (no ties)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for corner in ("tl", "br"):
        out[f"{corner}_heat"] = torch.randn(1, num_classes, side, side, generator=g)
        out[f"{corner}_emb"] = torch.randn(1, 1, side, side, generator=g) * 0.5
        out[f"{corner}_off"] = torch.rand(1, 2, side, side, generator=g)
    return out


def fake_run(outputs, side=8):
    image = np.zeros((side * STRIDE, side * STRIDE, 3), dtype=np.uint8)
    target = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    return W.ModelRun(image, target, [outputs], [])


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))
