"""The commands end to end on CPU: synth, train, eval, predict, export; data stats, size,
bench."""

from __future__ import annotations

from pathlib import Path
import json

import cv2
import pytest

from mcn.cli import main
from mcn.models import PRESETS
from tests.cli.running import run_cli


@pytest.mark.slow
def test_synth_train_eval_predict_export(workspace, capsys):
    synth, run = workspace / "synth", workspace / "run"
    ids = (synth / "test" / "ids.txt").read_text().split()
    assert len(ids) == 3 and all((synth / "test" / f"{i}.jpg").exists() for i in ids)
    assert {"last.pt", "best.pt", "log.jsonl", "val.jsonl", "config.json"} <= {p.name for p in run.iterdir()}

    status, out, err = run_cli(["eval", "--checkpoint", str(run / "last.pt"), "--data",
                                f"tt100k:{synth}", "--out", str(workspace / "eval"),
                                "--device", "cpu", "--quiet", "--no-coco"], capsys)
    assert status == 0, err
    assert "accuracy" in out and "recall" in out
    metrics = json.loads((workspace / "eval" / "metrics.json").read_text())
    prov = metrics["provenance"]
    for key in ("command", "config", "git_commit", "seed", "torch_version", "device", "checkpoint"):
        assert key in prov
    assert prov["checkpoint"].endswith("last.pt") and prov["checkpoint_iteration"] == 2
    assert set(metrics["metrics"]["tt100k"]) == {"all", "small", "medium", "large"}
    results = json.loads((workspace / "eval" / "results.json").read_text())
    assert sorted(results["imgs"]) == sorted(ids)
    assert (workspace / "eval" / "pr_curves.png").stat().st_size > 0
    assert prov["scales"] == [1.0] and prov["scale_band"] is None

    status, out, err = run_cli(["eval", "--checkpoint", str(run / "last.pt"), "--data",
                                f"tt100k:{synth}", "--out", str(workspace / "eval_ms"),
                                "--scales", "1,2", "--scale-band", "8,48",
                                "--device", "cpu", "--quiet", "--no-coco"], capsys)
    assert status == 0, err
    prov = json.loads((workspace / "eval_ms" / "metrics.json").read_text())["provenance"]
    assert prov["scales"] == [1.0, 2.0] and prov["scale_band"] == [8.0, 48.0]
    results = json.loads((workspace / "eval_ms" / "results.json").read_text())
    assert sorted(results["imgs"]) == sorted(ids)

    images = [str(synth / "test" / f"{i}.jpg") for i in ids]
    status, out, err = run_cli(["predict", "--checkpoint", str(run / "best.pt"), *images, "--out",
                                str(workspace / "pred"), "--device", "cpu", "--min-score", "0"], capsys)
    assert status == 0, err
    drawn = cv2.imread(str(workspace / "pred" / f"{ids[0]}.png"))
    assert drawn.shape == cv2.imread(images[0]).shape
    predictions = json.loads((workspace / "pred" / "predictions.json").read_text())
    assert [p["image"] for p in predictions["images"]] == images
    assert predictions["classes"] == ["pn", "pne", "i5"]
    assert all(o["category"] in predictions["classes"] for p in predictions["images"] for o in p["objects"])
    assert predictions["provenance"]["scales"] == [1.0]
    status, out, err = run_cli(["predict", "--checkpoint", str(run / "best.pt"), images[0], "--out",
                                str(workspace / "pred_ms"), "--device", "cpu", "--scales", "1,2",
                                "--scale-band", "8,48"], capsys)
    assert status == 0, err
    predictions = json.loads((workspace / "pred_ms" / "predictions.json").read_text())
    assert predictions["provenance"]["scales"] == [1.0, 2.0]
    assert cv2.imread(str(workspace / "pred_ms" / f"{ids[0]}.png")).shape == cv2.imread(images[0]).shape

    status, out, err = run_cli(["export", "--checkpoint", str(run / "last.pt"), "--onnx",
                                str(workspace / "model.onnx")], capsys)
    assert status == 0, err
    assert "ONNX Runtime matches PyTorch" in out
    assert (workspace / "model.onnx").stat().st_size > 0


def test_data_stats_counts_the_written_split(workspace, tmp_path, capsys):
    synth = workspace / "synth"
    status, out, err = run_cli(["data", "stats", "--data", f"tt100k:{synth}", "--split", "test",
                                "--classes", "top3", "--json", str(tmp_path / "s.json"), "--quiet"], capsys)
    assert status == 0, err
    annotations = json.loads((synth / "annotations.json").read_text())
    objects = [o for record in annotations["imgs"].values() for o in record["objects"]]
    stats = json.loads((tmp_path / "s.json").read_text())["stats"]
    assert stats["num_images"] == 3 and stats["num_objects"] == len(objects)
    for name in ("pn", "pne", "i5"):
        assert stats["counts"][name] == sum(o["category"] == name for o in objects)
    assert f"images 3, objects {len(objects)}" in out


def test_size_lists_every_variant(capsys):
    status, out, _ = run_cli(["size", "--num-classes", "10"], capsys)
    assert status == 0
    for variant in ("cornernet-squeeze", "cornernet-fusion", "cornernet-fire", "cornernet-mask",
                    "mask-cornernet"):
        assert out.count(variant) == len(PRESETS)  # one row per size preset


def test_bench_lists_the_benchmark_modules(capsys):
    status, out, _ = run_cli(["bench", "--list"], capsys)
    assert status == 0
    folder = Path(__file__).parents[2] / "mcn" / "benchmarks"
    modules = sorted(p.stem for p in folder.glob("*.py")
                     if not p.stem.startswith("_") and "\ndef main(" in p.read_text())
    assert sorted(out.split()) == modules
