"""Divergence: exploding or non-finite losses and weights stop a run before it saves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mcn.checkpoint import CheckpointError, load_checkpoint, load_model, nonfinite_tensors, save_checkpoint
from mcn.classes import top_classes
from mcn.train import TrainingDiverged, get_config, read_log, train
from mcn.train.guard import LossGuard
from tests.train.small_runs import blow_up_loss

TERMS = ("det", "total")


def small_config(**changes):
    fields = dict(input_size=64, image_size=128, batch_size=2, iters=4, train_images=6,
                  val_images=0, num_workers=0, ckpt_every=2, classes=top_classes(3),
                  warmup_iters=0, augment=False)
    fields.update(changes)
    return get_config("tiny", **fields)


def test_the_guard_passes_a_healthy_run_and_names_what_went_wrong():
    guard = LossGuard(bound=1e4)
    assert guard.check(TERMS, [5.0, 9.0]) is None
    assert guard.check(TERMS, [50.0, 900.0]) is None  # 100 x the median: noisy, not diverged
    assert "exceeds" in guard.check(TERMS, [1e20, 1e20])
    assert "'det' became nan" in LossGuard().check(TERMS, [float("nan"), 1.0])
    assert "'total' became inf" in LossGuard().check(TERMS, [1.0, float("inf")])


def test_nonfinite_tensors_lists_floating_tensors_only():
    state = {"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")]),
             "n": torch.tensor(3), "c": torch.tensor([float("-inf")])}
    assert nonfinite_tensors(state) == ["b", "c"]


def test_an_exploding_loss_stops_the_run_like_a_nan(tmp_path, monkeypatch):
    blow_up_loss(monkeypatch, at_call=3, factor=1e8)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"exceeds .* at iteration 3.*last finite "
                                               r"checkpoint is .*last.pt \(iteration 2\)"):
        train(small_config(), "synth", run, "cpu", progress=False)
    assert load_checkpoint(run / "last.pt")["iteration"] == 2


def test_non_finite_weights_are_never_saved(tmp_path, monkeypatch):
    import mcn.train.loop as loop
    real_step = loop._train_step

    def poisoning(run, batches, step):
        losses = real_step(run, batches, step)
        if step == 3:  # the last update breaks a weight; the loss it logged was finite
            next(run.model.parameters()).data.fill_(float("inf"))
        return losses

    monkeypatch.setattr(loop, "_train_step", poisoning)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"weight tensor\(s\) became non-finite .* "
                                               r"iteration 4.*--resume .*last.pt --lr"):
        train(small_config(), "synth", run, "cpu", progress=False)
    state = load_checkpoint(run / "last.pt")
    assert state["iteration"] == 2 and not nonfinite_tensors(state["model"])


def test_a_checkpoint_with_non_finite_weights_does_not_load_for_inference(tmp_path):
    from mcn.models import build_model
    model = build_model("cornernet-squeeze", 3, "tiny")
    weights = model.state_dict()
    next(iter(weights.values())).fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan.pt", {
        "variant": "cornernet-squeeze", "model_preset": "tiny", "num_classes": 3,
        "iteration": 1, "config": {}, "model": weights})
    with pytest.raises(CheckpointError, match="non-finite weights"):
        load_model(path)


def test_resume_may_lower_the_learning_rate_and_records_it(tmp_path):
    run = tmp_path / "run"
    train(small_config(iters=2, lr=1e-3), "synth", run, "cpu", progress=False)
    last = run / "last.pt"
    train(small_config(iters=3, lr=1e-4, grad_clip=0.5), "synth", run, "cpu", resume=str(last),
          progress=False, resume_overrides=["lr", "grad_clip"])
    assert [r["lr"] for r in read_log(run / "log.jsonl")] == pytest.approx([1e-3, 1e-3, 1e-4])
    record = json.loads((run / "config.json").read_text())
    assert record["provenance"]["resume_changes"] == {"lr": [1e-3, 1e-4], "grad_clip": [5.0, 0.5]}
    assert record["config"]["grad_clip"] == 0.5


def test_a_loss_that_keeps_growing_stops_the_run_though_no_step_jumps():
    guard = LossGuard()
    totals = [30.0] * 20 + [30.0 * 1.2 ** k for k in range(1, 60)]  # +20 % a step: no jump
    problems = [guard.check(("total",), [t]) for t in totals]
    stopped = next(i for i, p in enumerate(problems) if p)
    assert "grew past 10 x that of the first 20" in problems[stopped]
    # it stops once the median of the last 20 (the 10th-11th newest) passes 300
    assert 30.0 * 1.2 ** (stopped - 20 - 9) > 300 and stopped < len(totals) - 1


@pytest.mark.parametrize("run", ["tiny-mask-cornernet", "book-mask-cornernet", "book-cornernet-squeeze"])
def test_the_committed_healthy_runs_never_trip_the_guard(run):
    log = Path(__file__).resolve().parents[2] / "data" / "runs" / run / "log.jsonl"
    guard = LossGuard()
    for record in read_log(log):
        assert guard.check(("total",), [record["total"]]) is None, record["iter"]


def test_a_slow_divergence_stops_the_run_like_a_nan(tmp_path, monkeypatch):
    import mcn.train.loop as loop
    real_loss, calls = loop.detection_loss, {"n": 0}

    def growing(outputs, targets, weights):
        calls["n"] += 1
        losses = real_loss(outputs, targets, weights)
        losses["total"] = losses["total"] * 1.3 ** max(0, calls["n"] - 20)
        return losses

    monkeypatch.setattr(loop, "detection_loss", growing)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"grew past 10 x .* at iteration \d+; training "
                                               r"stopped.*last finite checkpoint is .*last.pt"):
        train(small_config(iters=60, ckpt_every=10), "synth", run, "cpu", progress=False)
    assert load_checkpoint(run / "last.pt")["iteration"] in (20, 30, 40)


def test_a_resumed_run_is_judged_against_the_whole_run(tmp_path, monkeypatch):
    """The guard's memory travels in the checkpoint: a run resumed from weights that are
    finite but broken stops at once, instead of taking its first huge loss as normal."""
    run = tmp_path / "run"
    train(small_config(iters=2), "synth", run, "cpu", progress=False)
    assert len(load_checkpoint(run / "last.pt")["guard"]["totals"]) == 2
    import mcn.train.loop as loop
    real_loss = loop.detection_loss

    def broken(outputs, targets, weights):
        losses = real_loss(outputs, targets, weights)
        losses["total"] = losses["total"] * 1e6
        return losses

    monkeypatch.setattr(loop, "detection_loss", broken)
    with pytest.raises(TrainingDiverged, match=r"exceeds 10000 x its running median .* at "
                                               r"iteration 3.*resumed from .*last.pt diverged at "
                                               r"its first step.*in a new --out"):
        train(small_config(iters=6), "synth", run, "cpu", resume=True, progress=False)
