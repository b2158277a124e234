"""The book-scale experiments (mcn.experiments) on runs trained for a few iterations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mcn import experiments
from mcn.checkpoint import load_checkpoint
from mcn.train import get_config, top_classes

VARIANTS = ("cornernet-squeeze", "mask-cornernet")


def small_config(**changes):
    fields = dict(input_size=64, image_size=128, batch_size=2, iters=2, train_images=4,
                  val_images=0, num_workers=0, ckpt_every=2, classes=top_classes(3),
                  eval_minscore=0.0)
    fields.update(changes)
    return get_config("tiny", **fields)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ablation")
    experiments.train_variants(root, small_config(), VARIANTS, device="cpu", progress=False)
    return root


def test_train_variants_writes_one_finished_run_per_variant_and_keeps_them(runs):
    for variant in VARIANTS:
        summary = json.loads((runs / variant / "summary.json").read_text())
        assert summary["iterations"] == 2 and summary["cpu_seconds"] > 0
        assert load_checkpoint(runs / variant / "last.pt")["variant"] == variant
    before = (runs / VARIANTS[0] / "last.pt").stat().st_mtime_ns
    experiments.train_variants(runs, small_config(), VARIANTS[:1], device="cpu", progress=False)
    assert (runs / VARIANTS[0] / "last.pt").stat().st_mtime_ns == before  # finished: not retrained


def test_find_checkpoints_names_every_missing_variant(runs, tmp_path):
    found = experiments.find_checkpoints(runs, VARIANTS)
    assert found == {v: runs / v / "last.pt" for v in VARIANTS}
    with pytest.raises(FileNotFoundError, match="cornernet-fire, cornernet-mask"):
        experiments.find_checkpoints(runs, ["cornernet-fire", "mask-cornernet", "cornernet-mask"])


def test_ablation_scores_every_variant_on_the_same_scenes(runs):
    rows = experiments.ablation_rows(experiments.find_checkpoints(runs, VARIANTS), num_images=3,
                                     device="cpu", progress=False)
    assert [r["variant"] for r in rows] == list(VARIANTS)
    assert len({r["num_gt"] for r in rows}) == 1 and rows[0]["num_gt"] > 0
    for row in rows:
        model, *_ = experiments.load_run(runs / row["variant"] / "last.pt")
        assert row["params"] == sum(p.numel() for p in model.parameters())
        summary = json.loads((runs / row["variant"] / "summary.json").read_text())
        cpu_seconds = summary["cpu_seconds"] + summary["cpu_seconds_data_workers"]
        assert row["iterations"] == 2 and cpu_seconds > 0
        assert row["train_cpu_minutes"] == pytest.approx(cpu_seconds / 60, abs=1e-4)
        assert row["train_minutes"] == pytest.approx(summary["seconds"] / 60, abs=1e-4)
        assert all(0 <= row[f"{b}_recall"] <= 1 for b in ("all", "small", "medium", "large"))
    table = experiments.ablation_table(rows)
    assert list(table.columns) == ["A", "R", "mAP", "R at A>=0.5", "params"]


def test_stack_rows_reproduce_the_model_output_for_the_trained_source(runs):
    path = runs / "mask-cornernet" / "last.pt"
    rows = experiments.stack_rows({"mcn": path}, num_images=3, device="cpu", progress=False)
    assert [r["source"] for r in rows] == ["stack-1", "stack-2", "fused"]
    assert [r["trained_output"] for r in rows] == [False, False, True]
    model, config, classes, _ = experiments.load_run(path)
    plain = experiments.score(model, config, classes, experiments.test_scenes(config, 3))
    fused = rows[-1]
    assert fused["all_recall"] == plain["tt100k"]["all"]["recall"]
    assert fused["all_map"] == plain["map"]
    assert experiments.stack_table(rows).shape == (3, 5)


def test_scale_rows_agree_with_scoring_and_choose_on_validation(runs):
    path = runs / "mask-cornernet" / "last.pt"
    model, config, classes, _ = experiments.load_run(path)
    sets, bands = [(1.0,), (1.0, 2.0)], [None, (8, 48)]
    rows = experiments.scale_rows(path, sets, bands, num_images=3,
                                  seed=experiments.TEST_SEED, progress=False)
    assert [(r["scales"], r["band"]) for r in rows] == [
        ([1.0], None), ([1.0, 2.0], None), ([1.0, 2.0], [8.0, 48.0])]
    assert [r["input_sizes"] for r in rows] == [[64], [64, 128], [64, 128]]
    assert [r["relative_cost"] for r in rows] == [1.0, 5.0, 5.0]
    # Each setting's numbers are those of scoring the model with that setting.
    scenes = experiments.test_scenes(config, 3)
    for row in rows:
        band = None if row["band"] is None else tuple(row["band"])
        metrics = experiments.score(model, config, classes, scenes, scales=row["scales"],
                                    scale_band=band)
        assert row["all_recall"] == metrics["tt100k"]["all"]["recall"]
        assert row["all_map"] == pytest.approx(metrics["map"])
    tied = {**rows[1], "all_recall_at_acc_0.5": rows[0]["all_recall_at_acc_0.5"]}
    assert experiments.best_setting([tied, rows[0]]) is rows[0]  # a tie goes to the cheaper
    result = experiments.scales_experiment(path, sets, bands, val_images=3, test_images=3,
                                           progress=False)
    assert result["chosen"] in [{"scales": r["scales"], "band": r["band"]}
                                for r in result["validation"]]
    assert result["test"][0]["scales"] == [1.0]
    assert result["test"][0]["all_recall"] == rows[0]["all_recall"]


def test_proposals_keep_at_most_k_squared_pairs(runs):
    path = runs / "cornernet-squeeze" / "last.pt"
    rows = experiments.proposal_rows(path, ks=(1, 4), num_images=3, repeats=2, progress=False)
    assert [r["k"] for r in rows] == [1, 4]
    assert all(r["decode_ms"] > 0 for r in rows)
    # One corner of each kind gives at most one pair per image: recall cannot beat K = 4's
    # by much, and its detections are at most the number of images.
    model, config, classes, _ = experiments.load_run(path)
    few = experiments.score(model, config, classes, experiments.test_scenes(config, 3), top_k=1)
    assert few["tt100k"]["all"]["num_det"] <= 3
    assert rows[0]["all_recall"] == few["tt100k"]["all"]["recall"]
    fig = experiments.plot_proposals(rows)
    left, right = fig.axes
    assert len(left.lines) == 4 and list(right.lines[0].get_ydata()) == [r["decode_ms"] for r in rows]


def test_speed_rows_time_and_score_each_side(runs):
    checkpoints = experiments.find_checkpoints(runs, VARIANTS)
    rows = experiments.speed_rows(checkpoints, sizes=(64, 128), num_images=2, scene_size=128,
                                  repeats=1, progress=False)
    assert [(r["variant"], r["input_size"]) for r in rows] == [
        (v, s) for v in VARIANTS for s in (64, 128)]
    assert all(r["forward_ms"] > 0 for r in rows)
    sizes = experiments.size_rows()
    assert {r["variant"] for r in sizes} >= set(VARIANTS)
    fig = experiments.plot_speed(rows)
    assert len(fig.axes[0].lines) == len(VARIANTS)


def test_save_weights_drops_training_state_and_still_loads(runs, tmp_path):
    source = runs / "mask-cornernet" / "last.pt"
    shipped = experiments.save_weights(source, tmp_path / "ship" / "mask-cornernet.pt")
    state = load_checkpoint(shipped)
    assert "optimizer" not in state and "rng" not in state
    assert shipped.stat().st_size < source.stat().st_size
    model, *_ = experiments.load_run(shipped)
    original, *_ = experiments.load_run(source)
    for (name, a), (_, b) in zip(model.state_dict().items(), original.state_dict().items()):
        assert torch.equal(a, b), name
    assert experiments.find_checkpoints(tmp_path / "ship", ["mask-cornernet"]) == {
        "mask-cornernet": shipped}


def test_cli_experiment_writes_results_with_provenance(runs, tmp_path):
    out = tmp_path / "stacks.json"
    done = subprocess.run([sys.executable, "-m", "mcn", "experiment", "stacks", "--runs", str(runs),
                           "--variants", "mask-cornernet", "--num", "2", "--out", str(out),
                           "--device", "cpu", "--threads", "1", "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    assert record["provenance"]["test_seed"] == experiments.TEST_SEED
    assert len(record["rows"]) == 3 and record["checkpoints"]["mask-cornernet"].endswith("last.pt")
    bad = subprocess.run([sys.executable, "-m", "mcn", "experiment", "ablation", "--runs", str(runs),
                          "--variants", "cornernet-lite"], capture_output=True, text=True)
    assert bad.returncode == 1 and "cornernet-lite" in bad.stderr and "Traceback" not in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "mcn", "experiment", "ablation", "--runs",
                              str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 1 and "no checkpoint for" in missing.stderr


def test_model_width_overrides_the_preset_width():
    config = small_config(model_width=0.125)
    assert config.model_config.width == 0.125 and small_config().model_config.width == 0.0625


def test_the_shipped_tiny_checkpoints_load_and_follow_the_tiny_preset():
    from mcn.models import VARIANTS as ALL
    from mcn.predict import shipped_checkpoint
    from mcn.train import TINY

    assert shipped_checkpoint("no-such-variant") is None
    for variant in ALL:
        path = shipped_checkpoint(variant)
        assert path is not None, f"mcn/weights/tiny/{variant}.pt is missing"
        model, config, classes, state = experiments.load_run(path)
        assert model.variant == variant and "optimizer" not in state
        assert {**config.to_dict(), "variant": None} == {**TINY.to_dict(), "variant": None}
        assert classes == list(TINY.classes) and state["iteration"] == TINY.iters
