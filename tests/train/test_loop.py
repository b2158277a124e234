"""The training loop: exact resume, log truncation, refusals, the NaN stop, validation,
the time limit, CPU accounting."""

from __future__ import annotations

from pathlib import Path
import json

import pytest
import torch

from mcn.classes import top_classes
from mcn.train import TrainingDiverged, read_log, train
from tests.train.small_runs import small_config


def test_summary_counts_the_cpu_time_of_the_data_workers(tmp_path):
    result = train(small_config(iters=2, num_workers=1), "synth", tmp_path / "run", "cpu",
                   progress=False)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["cpu_seconds"] > 0 and summary["cpu_seconds_data_workers"] > 0
    assert result.summary["cpu_seconds_data_workers"] == summary["cpu_seconds_data_workers"]


def test_training_reports_a_missing_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="TT100K folder .*absent"):
        train(small_config(), f"tt100k:{tmp_path / 'absent'}", tmp_path / "run", "cpu", progress=False)
    assert not (tmp_path / "run").exists()


def _losses(run: Path) -> list[tuple]:
    return [tuple(r[k] for k in ("iter", "lr", "det", "pull", "push", "off", "mask", "total"))
            for r in read_log(run / "log.jsonl")]


@pytest.mark.slow
def test_an_interrupted_then_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    config = small_config(iters=4, ckpt_every=2)
    whole = train(config, "synth", tmp_path / "whole", "cpu", progress=False)
    # "Interrupted" after iteration 2: the same run stopped there, then resumed to 4.
    train(small_config(iters=2, ckpt_every=2), "synth", tmp_path / "split", "cpu", progress=False)
    resumed = train(config, "synth", tmp_path / "split", "cpu", resume=True, progress=False)
    assert resumed.summary["resumed_from"] == 2
    assert _losses(tmp_path / "split") == _losses(tmp_path / "whole")
    assert [r[0] for r in _losses(tmp_path / "split")] == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_resume_drops_log_lines_written_after_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    train(small_config(iters=3, ckpt_every=2), "synth", run, "cpu", progress=False)
    # The run ends with last.pt at 3; pretend it had crashed after saving at 2.
    from mcn.checkpoint import load_checkpoint, save_checkpoint
    state = load_checkpoint(run / "last.pt")
    assert state["iteration"] == 3
    reference = _losses(run)
    train(small_config(iters=2, ckpt_every=2), "synth", tmp_path / "two", "cpu", progress=False)
    save_checkpoint(run / "last.pt", {k: v for k, v in load_checkpoint(tmp_path / "two" / "last.pt").items()
                                      if k != "format"})
    train(small_config(iters=3, ckpt_every=2), "synth", run, "cpu", resume=True, progress=False)
    assert _losses(run) == reference  # iteration 3 logged once, with the same numbers


def test_an_existing_run_is_not_overwritten(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="--resume"):
        train(small_config(), "synth", run, "cpu", progress=False)


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint .*last.pt"):
        train(small_config(), "synth", tmp_path / "run", "cpu", resume=True, progress=False)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import mcn.train.loop as train_module
    real_loss = train_module.detection_loss
    calls = {"n": 0}

    def poisoned(outputs, targets, weights):
        calls["n"] += 1
        losses = real_loss(outputs, targets, weights)
        if calls["n"] == 3:  # the third iteration
            losses["off"] = losses["off"] * float("nan")
            losses["total"] = losses["total"] + losses["off"]
        return losses

    monkeypatch.setattr(train_module, "detection_loss", poisoned)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"'off' became nan at iteration 3") as caught:
        train(small_config(iters=4, ckpt_every=2), "synth", run, "cpu", progress=False)
    assert "last.pt" in str(caught.value)
    from mcn.checkpoint import load_checkpoint
    state = load_checkpoint(run / "last.pt")
    assert state["iteration"] == 2  # saved before the NaN, nothing after
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert [r["iter"] for r in read_log(run / "log.jsonl")] == [1, 2]


@pytest.mark.slow
def test_resuming_with_another_variant_names_the_mismatch(tmp_path):
    run = tmp_path / "run"
    train(small_config(iters=1, ckpt_every=1), "synth", run, "cpu", progress=False)
    from mcn.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="'mask-cornernet' but the run asks for 'cornernet-squeeze'"):
        train(small_config(iters=2, variant="cornernet-squeeze"), "synth", run, "cpu",
              resume=True, progress=False)
    with pytest.raises(CheckpointError, match="3 classes but the run asks for 4"):
        train(small_config(iters=2, classes=top_classes(4)), "synth", run, "cpu",
              resume=True, progress=False)


@pytest.mark.slow
def test_validation_writes_metrics_and_best_checkpoint(tmp_path):
    run = tmp_path / "run"
    result = train(small_config(iters=2, val_images=2, eval_every=1), "synth", run, "cpu", progress=False)
    lines = [json.loads(l) for l in (run / "val.jsonl").read_text().splitlines()]
    assert [l["iter"] for l in lines] == [1, 2]
    assert set(lines[0]["tt100k"]) == {"all", "small", "medium", "large"}
    assert (run / "best.pt").exists() and result.summary["validation"] == {
        k: v for k, v in lines[-1].items() if k != "iter"}


def test_a_time_limit_stops_after_the_current_iteration_and_saves(tmp_path):
    run = tmp_path / "run"
    result = train(small_config(iters=50, time_limit_s=1e-6), "synth", run, "cpu", progress=False)
    assert result.summary["iterations"] == 1
    from mcn.checkpoint import load_checkpoint
    assert load_checkpoint(run / "last.pt")["iteration"] == 1
    assert len(read_log(run / "log.jsonl")) == 1


@pytest.mark.slow
def test_resume_rebuilds_the_saved_network_even_if_the_preset_changed(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(small_config(iters=1, ckpt_every=1), "synth", run, "cpu", progress=False)
    import mcn.models.config as model_config
    wider = model_config.PRESETS["tiny"].replace(width=2 * model_config.PRESETS["tiny"].width)
    monkeypatch.setitem(model_config.PRESETS, "tiny", wider)
    resumed = train(small_config(iters=2), "synth", run, "cpu", resume=True, progress=False)
    assert resumed.model.config.width == wider.width / 2
    assert [r["iter"] for r in read_log(run / "log.jsonl")] == [1, 2]


def test_the_validation_at_the_end_of_training_shows_progress(tmp_path, capsys):
    train(small_config(iters=1, val_images=2, eval_every=0), "synth", tmp_path / "run", "cpu",
          progress=True)
    err = capsys.readouterr().err
    assert "detect" in err and "1/1" in err  # one batch of 2 validation images
    train(small_config(iters=1, val_images=2, eval_every=0), "synth", tmp_path / "quiet", "cpu",
          progress=False)
    assert capsys.readouterr().err == ""
