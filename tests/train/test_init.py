"""A new run started from another run's weights (``--init``, fine-tuning)."""

from __future__ import annotations

import pytest
import torch

from mcn.checkpoint import CheckpointError, load_checkpoint
from mcn.classes import top_classes
from mcn.train import read_log, train
from tests.train.small_runs import small_config


def test_a_run_starts_from_the_weights_of_another_but_at_iteration_zero(tmp_path):
    first = tmp_path / "first"
    train(small_config(iters=2, ckpt_every=2), "synth", first, "cpu", progress=False)
    start = load_checkpoint(first / "last.pt")["model"]
    # Adam moves each weight by about lr in its first step: with lr 1e-20 the second
    # run's weights stay the first run's, to far below their own size.
    tuned = train(small_config(iters=1, lr=1e-20, warmup_iters=0, init_from=str(first / "last.pt"),
                               train_class_balance="uniform"), "synth", tmp_path / "tuned", "cpu",
                  progress=False)
    for name, tensor in tuned.model.named_parameters():  # buffers (BN, EM bases) move on
        assert torch.allclose(tensor, start[name], rtol=0, atol=1e-12), name
    assert [r["iter"] for r in read_log(tmp_path / "tuned" / "log.jsonl")] == [1]
    saved = load_checkpoint(tmp_path / "tuned" / "last.pt")
    assert saved["iteration"] == 1 and saved["config"]["init_from"] == str(first / "last.pt")


@pytest.mark.slow
def test_a_fresh_run_differs_from_an_initialised_one(tmp_path):
    first = tmp_path / "first"
    train(small_config(iters=2, ckpt_every=2, seed=1), "synth", first, "cpu", progress=False)
    fresh = train(small_config(iters=1, lr=1e-20, warmup_iters=0), "synth", tmp_path / "fresh",
                  "cpu", progress=False)
    start = load_checkpoint(first / "last.pt")["model"]
    assert any(not torch.allclose(t, start[n], rtol=0, atol=1e-12)
               for n, t in fresh.model.named_parameters())


@pytest.mark.slow
def test_init_refuses_a_checkpoint_of_another_model(tmp_path):
    first = tmp_path / "first"
    train(small_config(iters=1, ckpt_every=1), "synth", first, "cpu", progress=False)
    with pytest.raises(CheckpointError, match="--init .* is variant 'mask-cornernet' but the run "
                                              "asks for 'cornernet-squeeze'"):
        train(small_config(iters=1, variant="cornernet-squeeze", init_from=str(first / "last.pt")),
              "synth", tmp_path / "a", "cpu", progress=False)
    with pytest.raises(CheckpointError, match="3 classes but the run asks for 4"):
        train(small_config(iters=1, classes=top_classes(4), init_from=str(first / "last.pt")),
              "synth", tmp_path / "b", "cpu", progress=False)
    with pytest.raises(FileNotFoundError, match="--init: no checkpoint"):
        train(small_config(iters=1, init_from=str(tmp_path / "absent.pt")), "synth",
              tmp_path / "c", "cpu", progress=False)
    assert not (tmp_path / "a" / "last.pt").exists()
