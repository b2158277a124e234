"""The trainer: configuration, data order, learning-rate schedule, exact resume, NaN stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mcn.classes import parse_classes, top_classes
from mcn.data.sources import build_dataset, parse_data_spec, synthetic_seeds
from mcn.data.stream import TrainStream, epoch_permutation, sample_index, sample_positions
from mcn.train import (TINY, TrainConfig, TrainingDiverged, get_config, learning_rate_factor,
                       plot_losses, read_log, train)
from mcn.train import distributed
from mcn.train.distributed import DistInfo


def small_config(**changes) -> TrainConfig:
    """The tiny preset cut down to seconds: 64-pixel inputs, batch 2, a few iterations."""
    fields = dict(input_size=64, image_size=128, batch_size=2, iters=4, train_images=6,
                  val_images=0, num_workers=0, ckpt_every=2, classes=top_classes(3),
                  warmup_iters=2, augment=True)
    fields.update(changes)
    return get_config("tiny", **fields)




# --------------------------------------------------------------------------- config

def test_presets_hold_the_paper_setting():
    paper = get_config("paper")
    assert (paper.batch_size, paper.lr, paper.decay_every, paper.input_size) == (13, 2.5e-4, 180_000, 512)
    assert paper.decay_factor == 0.1
    assert TINY.model_preset == "tiny" and TINY.input_size % 64 == 0


def test_get_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown training preset 'huge'"):
        get_config("huge")
    with pytest.raises(ValueError, match="unknown TrainConfig fields: batch"):
        get_config("tiny", batch=3)
    with pytest.raises(ValueError, match="amp"):
        get_config("tiny", amp="fp8")


def test_config_round_trips_through_a_dict():
    config = small_config(classes=("pn", "pne"))
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_parse_classes():
    assert parse_classes("type42") == "type42"
    assert parse_classes("top3") == ("pn", "pne", "i5")  # po is not in type42
    assert parse_classes("pn, i5") == ("pn", "i5")
    with pytest.raises(ValueError, match="repeats"):
        parse_classes("pn,pn")


def test_learning_rate_schedule_by_hand():
    config = TrainConfig(lr=1.0, warmup_iters=10, decay_every=100, decay_factor=0.1)
    assert learning_rate_factor(0, config) == pytest.approx(0.01)
    assert learning_rate_factor(5, config) == pytest.approx(0.01 + 0.99 * 0.5)
    assert learning_rate_factor(10, config) == pytest.approx(1.0)
    assert learning_rate_factor(99, config) == pytest.approx(1.0)
    assert learning_rate_factor(100, config) == pytest.approx(0.1)
    assert learning_rate_factor(250, config) == pytest.approx(0.01)
    no_warmup = TrainConfig(warmup_iters=0, decay_every=180_000)
    assert learning_rate_factor(0, no_warmup) == 1.0
    assert learning_rate_factor(180_000, no_warmup) == pytest.approx(0.1)


def test_cosine_schedule_by_hand():
    config = TrainConfig(lr=1.0, iters=100, warmup_iters=0, lr_schedule="cosine")
    assert learning_rate_factor(0, config) == pytest.approx(1.0)
    assert learning_rate_factor(50, config) == pytest.approx(0.5)
    assert learning_rate_factor(75, config) == pytest.approx(0.5 * (1 + 2 ** -0.5 * -1))
    assert learning_rate_factor(100, config) == pytest.approx(0.0)
    warm = TrainConfig(lr=1.0, iters=100, warmup_iters=10, lr_schedule="cosine")
    assert learning_rate_factor(0, warm) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="lr_schedule must be step or cosine"):
        TrainConfig(lr_schedule="linear")


def test_training_scenes_may_be_denser_and_balanced_validation_keeps_the_mix():
    config = small_config(train_signs_per_image=6.0, train_class_balance="uniform")
    training, validation = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    assert training.signs_per_image == 6.0 and training.class_balance == "uniform"
    assert validation.signs_per_image == 2.5 and validation.class_balance == config.class_balance
    assert build_dataset("synth", small_config(), "train").signs_per_image == TINY.train_signs_per_image
    plain = build_dataset("synth", small_config(train_signs_per_image=None), "train")
    assert plain.signs_per_image == 2.5 and plain.class_balance == "tt100k"


def test_summary_counts_the_cpu_time_of_the_data_workers(tmp_path):
    result = train(small_config(iters=2, num_workers=1), "synth", tmp_path / "run", "cpu",
                   progress=False)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["cpu_seconds"] > 0 and summary["cpu_seconds_data_workers"] > 0
    assert result.summary["cpu_seconds_data_workers"] == summary["cpu_seconds_data_workers"]


# --------------------------------------------------------------------------- data

def test_data_spec_parsing_and_missing_paths(tmp_path):
    assert parse_data_spec("synth").kind == "synth"
    assert parse_data_spec(f"tt100k:{tmp_path}").root == tmp_path
    with pytest.raises(FileNotFoundError, match="nowhere"):
        parse_data_spec(f"tt100k:{tmp_path / 'nowhere'}")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        parse_data_spec(f"coco:{tmp_path / 'missing.json'}")
    ann = tmp_path / "ann.json"
    ann.write_text("{}")
    spec = parse_data_spec(f"coco:{ann}")
    assert spec.image_dir == tmp_path  # images default to the annotation file's folder
    with pytest.raises(FileNotFoundError, match="imgs"):
        parse_data_spec(f"coco:{ann}:{tmp_path / 'imgs'}")
    with pytest.raises(ValueError, match="expected synth"):
        parse_data_spec("voc:/data")


def test_training_reports_a_missing_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="TT100K folder .*absent"):
        train(small_config(), f"tt100k:{tmp_path / 'absent'}", tmp_path / "run", "cpu", progress=False)
    assert not (tmp_path / "run").exists()


def test_synthetic_train_and_validation_scenes_never_coincide():
    train_seed, val_seed = synthetic_seeds(3)
    assert train_seed % 2 == 0 and val_seed % 2 == 1
    assert {synthetic_seeds(k)[0] for k in range(50)}.isdisjoint(
        {synthetic_seeds(k)[1] for k in range(50)})
    config = small_config(val_images=2)
    train_set, val_set = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    assert not torch.equal(train_set[0][0], val_set[0][0])


def test_each_epoch_is_a_permutation_and_ranks_share_the_stream():
    perm = epoch_permutation(7, seed=1, epoch=0)
    assert sorted(perm.tolist()) == list(range(7))
    assert not torch.equal(perm, epoch_permutation(7, seed=1, epoch=1))
    # Positions 0..13 cover two epochs: each index exactly twice.
    visited = sorted(sample_index(p, 7, 1) for p in range(14))
    assert visited == sorted(list(range(7)) * 2)
    # Two ranks, batch 3, accumulation 2: every position read once, by one rank.
    seen = []
    for step in range(2):
        for micro in range(2):
            for rank in range(2):
                seen += sample_positions(step, micro, 3, 2, DistInfo(rank, 2))
    assert sorted(seen) == list(range(2 * 2 * 2 * 3))


def test_train_stream_items_are_pure_functions_of_their_position():
    config = small_config()
    dataset = build_dataset("synth", config, "train")
    from mcn.data.transforms import train_transform
    a = TrainStream(dataset, train_transform(64), seed=5)
    b = TrainStream(dataset, train_transform(64), seed=5, cache=True)
    for position in (0, 4, 11):
        (xa, ta), (xb, tb) = a[position], b[position]
        assert torch.equal(xa, xb) and torch.equal(ta["boxes"], tb["boxes"])


# --------------------------------------------------------------------------- runs

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


def test_plot_losses_draws_every_term(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"iter": i, "lr": 1e-3, "det": 5.0 / i, "pull": 0.1, "push": 0.2,
                                       "off": 0.5, "mask": 0.3, "total": 6.0 / i}) + "\n"
                           for i in range(1, 6)))
    figure = plot_losses(log)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:7] == ["det", "pull", "push", "off", "mask", "total", "lr"]
    det_line = figure.axes[0].lines[0]
    assert list(det_line.get_ydata()) == [5.0 / i for i in range(1, 6)]
    with pytest.raises(FileNotFoundError):
        plot_losses(tmp_path / "none.jsonl")


def test_resolve_device_refuses_cuda_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        distributed.resolve_device("cuda")
    assert distributed.resolve_device("auto").type == "cpu"


def test_a_time_limit_stops_after_the_current_iteration_and_saves(tmp_path):
    run = tmp_path / "run"
    result = train(small_config(iters=50, time_limit_s=0.0), "synth", run, "cpu", progress=False)
    assert result.summary["iterations"] == 1
    from mcn.checkpoint import load_checkpoint
    assert load_checkpoint(run / "last.pt")["iteration"] == 1
    assert len(read_log(run / "log.jsonl")) == 1


def test_evaluation_may_use_a_larger_input_than_training():
    config = small_config(input_size=64, eval_input_size=128)
    assert config.eval_size == 128 and small_config().eval_size == 64
    with pytest.raises(ValueError, match="eval_input_size=100 must be a multiple of 64"):
        from mcn.train import build_training
        build_training(small_config(eval_input_size=100), 3, torch.device("cpu"))


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
