"""Table 1 at book scale: training the variants and scoring them on the same scenes."""

from __future__ import annotations

import json

import pytest

from mcn import experiments
from mcn.checkpoint import load_checkpoint
from tests.experiments.tiny_runs import VARIANTS, small_config


def test_train_variants_writes_one_finished_run_per_variant_and_keeps_them(runs):
    for variant in VARIANTS:
        summary = json.loads((runs / variant / "summary.json").read_text())
        assert summary["iterations"] == 2 and summary["cpu_seconds"] > 0
        assert load_checkpoint(runs / variant / "last.pt")["variant"] == variant
    before = (runs / VARIANTS[0] / "last.pt").stat().st_mtime_ns
    experiments.train_variants(runs, small_config(), VARIANTS[:1], device="cpu", progress=False)
    assert (runs / VARIANTS[0] / "last.pt").stat().st_mtime_ns == before  # finished: not retrained


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
        if model.has_mask:   # attention and mask IoU of every stack's mask module
            report = row["mask_module"]
            assert len(report["attention"]) == len(model.mask_modules) == len(report["mask"])
            assert all(0 < a["mean_max"] <= 1 for a in report["attention"])
        else:
            assert "mask_module" not in row
    table = experiments.ablation_table(rows)
    assert list(table.columns) == ["A", "R", "mAP", "R at A>=0.5", "params"]
