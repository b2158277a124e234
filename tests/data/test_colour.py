"""Colour jitter and PCA lighting against their definitions."""

from __future__ import annotations

import numpy as np
import torch

from mcn.data.colour import EIGVAL, EIGVEC, ColorJitter, Lighting


def test_colour_jitter_and_lighting():
    image = torch.full((3, 8, 8), 128, dtype=torch.uint8)
    target = {"image_id": 0}
    same, _ = ColorJitter(0.0, 0.0, 0.0)(image, target, rng=np.random.default_rng(0))
    assert torch.equal(same, image)
    for seed in range(5):
        out, _ = ColorJitter(0.4, 0.0, 0.0)(image, target, rng=np.random.default_rng(seed))
        ratio = out.float() / 128
        assert ratio.min() >= 0.6 - 1e-2 and ratio.max() <= 1.4 + 1e-2
        assert (out == out[0, 0, 0]).all()  # brightness of a grey image stays uniform grey
    # Lighting adds one offset per channel: sum_j EIGVEC[c][j] * EIGVAL[j] * alpha_j.
    out, _ = Lighting(0.1)(image, target, rng=np.random.default_rng(7))
    alpha = np.random.default_rng(7).normal(0.0, 0.1, size=3)
    for c in range(3):
        offset = sum(EIGVEC[c][j] * EIGVAL[j] * alpha[j] for j in range(3))
        assert (out[c].float() - round(128 + 255 * offset)).abs().max() <= 1
