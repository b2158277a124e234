"""--keep N: the last N checkpoints stay, last.pt names the newest, any of them resumes."""

from __future__ import annotations

import json

import pytest
import torch

from mcn.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from mcn.train import TrainingDiverged, read_log, train
from mcn.train.keep import kept_checkpoints, save_kept
from tests.train.small_runs import blow_up_loss, small_config


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_keep_n_keeps_the_newest_n_and_last_names_the_newest(tmp_path):
    for step in range(1, 6):
        path = save_kept(tmp_path, {"iteration": step}, step, keep=3)
        assert path.name == f"iter-{step:06d}.pt"
    assert names(tmp_path) == ["iter-000003.pt", "iter-000004.pt", "iter-000005.pt", "last.pt"]
    assert load_checkpoint_iteration(tmp_path / "last.pt") == 5
    assert list(kept_checkpoints(tmp_path)) == [3, 4, 5]


def test_keep_1_is_last_pt_alone_as_before(tmp_path):
    for step in (1, 2):
        assert save_kept(tmp_path, {"iteration": step}, step, keep=1) == tmp_path / "last.pt"
    assert names(tmp_path) == ["last.pt"]


def test_checkpoints_after_the_one_saved_are_another_branch_and_stay(tmp_path):
    for step in (1, 2, 3, 4):
        save_kept(tmp_path, {"iteration": step}, step, keep=2)
    assert names(tmp_path) == ["iter-000003.pt", "iter-000004.pt", "last.pt"]
    save_kept(tmp_path, {"iteration": 1, "branch": "b"}, 1, keep=2)  # resumed from 0
    save_kept(tmp_path, {"iteration": 2, "branch": "b"}, 2, keep=2)
    assert names(tmp_path) == ["iter-000001.pt", "iter-000002.pt", "iter-000003.pt",
                               "iter-000004.pt", "last.pt"]
    assert torch.load(tmp_path / "last.pt", weights_only=True)["branch"] == "b"


def load_checkpoint_iteration(path) -> int:
    return torch.load(path, weights_only=True)["iteration"]


def test_a_run_keeps_its_checkpoints_and_resumes_from_an_earlier_one(tmp_path):
    run = tmp_path / "run"
    train(small_config(iters=3, ckpt_every=1, keep=2), "synth", run, "cpu", progress=False)
    assert [n for n in names(run) if n.endswith(".pt")] == ["iter-000002.pt", "iter-000003.pt",
                                                            "last.pt"]
    assert load_checkpoint(run / "last.pt")["iteration"] == 3
    # a resume without --keep (the config's default, 1) keeps the run's own 2
    train(small_config(iters=4, ckpt_every=1), "synth", run, "cpu",
          resume=str(run / "iter-000002.pt"), progress=False)
    assert [r["iter"] for r in read_log(run / "log.jsonl")] == [1, 2, 3, 4]
    assert [n for n in names(run) if n.endswith(".pt")] == ["iter-000003.pt", "iter-000004.pt",
                                                            "last.pt"]
    assert json.loads((run / "config.json").read_text())["provenance"]["resumed_checkpoint"] \
        == str(run / "iter-000002.pt")


def test_a_diverged_run_names_its_newest_kept_checkpoint(tmp_path, monkeypatch):
    blow_up_loss(monkeypatch, at_call=4, factor=float("nan"))
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"last finite checkpoint is \S*iter-000003.pt "
                                               r"\(iteration 3\).*--resume \S*iter-000003.pt"):
        train(small_config(iters=6, ckpt_every=1, keep=2), "synth", run, "cpu", progress=False)


def test_a_run_folder_from_before_checksums_and_keep_still_resumes(tmp_path):
    """An older run: last.pt without a checksum, its config without "keep"."""
    run = tmp_path / "old"
    train(small_config(iters=2, ckpt_every=2), "synth", run, "cpu", progress=False)
    state = load_checkpoint(run / "last.pt")
    del state["checksum"], state["guard"], state["config"]["keep"]
    torch.save({**state, "format": CHECKPOINT_FORMAT}, run / "last.pt")  # as older mcn wrote it
    result = train(small_config(iters=3, ckpt_every=1, keep=2), "synth", run, "cpu",
                   resume=True, progress=False, resume_overrides=["keep"])  # --keep 2 given
    assert result.summary["resumed_from"] == 2
    assert [n for n in names(run) if n.endswith(".pt")] == ["iter-000003.pt", "last.pt"]
    assert "checksum" in torch.load(run / "last.pt", weights_only=True)
