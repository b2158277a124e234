"""One image through the model: every stack, the EM inputs, the model left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcn import viz as W
from mcn.models import build_model
from tests.viz.views import SIZE


def test_stack_names_say_which_output_is_fused():
    plain = build_model("cornernet-squeeze", num_classes=2, preset="tiny")
    assert W.stack_names(plain) == ["stack 1", "stack 2"]
    fused = build_model("cornernet-fusion", num_classes=2, preset="tiny")
    assert W.stack_names(fused)[0] == "stack 1" and W.stack_names(fused)[1].startswith("fused")


def test_run_model_gives_every_stack_and_leaves_the_model_as_it_was(model, dataset, run):
    assert len(run.stacks) == len(model.hourglasses) == 2
    assert run.image.shape == (SIZE, SIZE, 3) and run.image.dtype == np.uint8
    x = torch.from_numpy(run.image).permute(2, 0, 1)
    from mcn.data import normalize

    with torch.no_grad():
        expected = model(normalize(x)[None])  # eval mode: the last (fused) stack
    torch.testing.assert_close(run.stacks[-1]["tl_heat"], expected["tl_heat"], atol=2e-4, rtol=1e-4)
    mask_channels = model.mask_modules[0].emau.channels
    half = SIZE // 2
    assert [tuple(t.shape) for t in run.emau_inputs] == [(1, mask_channels, half, half)] * 2
    # Training mode and the EM bases survive a run.
    model.train()
    bases = model.mask_modules[0].emau.mu.clone()
    try:
        W.run_model(model, dataset, 0, SIZE)
        assert model.training
        torch.testing.assert_close(model.mask_modules[0].emau.mu, bases, rtol=0, atol=0)
    finally:
        model.eval()
    with pytest.raises(ValueError, match="input_multiple"):
        W.run_model(model, dataset, 0, SIZE + 32)
    with pytest.raises(IndexError):
        W.run_model(model, dataset, len(dataset), SIZE)


def test_run_keeps_what_the_corner_pools_read(model, run):
    """The kept features, through the pools and heads of their stack, give that stack's
    heatmaps: they are what the pools read."""
    assert len(run.pool_inputs) == len(run.stacks) == 2
    for stack, features in enumerate(run.pool_inputs):
        with torch.no_grad():
            heat, _, _ = model.tl_heads[stack](model.tl_pools[stack](features))
        torch.testing.assert_close(heat, run.stacks[stack]["tl_heat"], atol=2e-4, rtol=1e-4)


def test_largest_sign_is_found_by_area(dataset):
    index, box = W.largest_sign(dataset)
    best = max(((float((b[2] - b[0]) * (b[3] - b[1])), i, b.tolist())
                for i in range(len(dataset)) for b in dataset[i][1]["boxes"]), key=lambda t: t[0])
    assert (index, box.tolist()) == (best[1], best[2])
    assert W.largest_sign([]) == (0, None)
