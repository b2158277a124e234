"""The ``mcn`` command line: help, an end-to-end run on CPU, and one-line user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

from mcn.cli import main
from mcn.export import scan_corner_pool
from mcn.nn.corner_pool import corner_pool

SMALL_TRAIN = ["--preset", "tiny", "--iters", "2", "--batch-size", "2", "--input-size", "64",
               "--image-size", "128", "--train-images", "4", "--val-images", "2",
               "--workers", "0", "--classes", "top3", "--device", "cpu", "--quiet",
               "--threads", "1"]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``mcn ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(args)
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err




@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Synthetic TT100K-layout data and a 2-iteration tiny run, shared by the tests."""
    root = tmp_path_factory.mktemp("cli")
    torch.set_num_threads(1)
    assert main(["data", "synth", "--out", str(root / "synth"), "--num", "3", "--split", "test",
                 "--image-size", "128", "--seed", "1", "--quiet", "--classes", "top3"]) == 0
    assert main(["train", "--data", "synth", "--out", str(root / "run"), *SMALL_TRAIN]) == 0
    return root


# --------------------------------------------------------------------------- help

@pytest.mark.parametrize("command", [["data", "synth"], ["data", "stats"], ["train"], ["eval"],
                                     ["predict"], ["size"], ["bench"], ["export"]])
def test_every_subcommand_has_help_with_examples(command, capsys):
    status, out, _ = run_cli([*command, "--help"], capsys)
    assert status == 0
    assert "examples:" in out and f"mcn {' '.join(command)}" in out


def test_python_dash_m_mcn_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "mcn", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    for name in ("data", "train", "eval", "predict", "size", "bench", "export"):
        assert name in done.stdout


def test_version_is_the_package_version(capsys):
    import mcn

    status, out, _ = run_cli(["--version"], capsys)
    assert status == 0 and out.strip() == f"mcn {mcn.__version__}"


# --------------------------------------------------------------------------- end to end

def test_predict_with_the_pretrained_model(tmp_path, capsys):
    from mcn.data import SyntheticSigns
    from mcn.predict import WEIGHTS, load_model, shipped_checkpoint

    classes = list(load_model(shipped_checkpoint("mask-cornernet", "tiny"))[1]["classes"])
    image, target = SyntheticSigns(2, 256, seed=2, classes=classes)[1]
    scene = tmp_path / "scene.png"
    cv2.imwrite(str(scene), cv2.cvtColor(image.permute(1, 2, 0).numpy(), cv2.COLOR_RGB2BGR))
    status, out, err = run_cli(["predict", str(scene), "--pretrained", "--preset", "tiny",
                                "--out", str(tmp_path / "pred"), "--device", "cpu"], capsys)
    assert status == 0, err
    predictions = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert predictions["provenance"]["checkpoint"] == str(WEIGHTS / "tiny" / "mask-cornernet.pt")
    assert predictions["classes"] == classes
    found = {o["category"] for o in predictions["images"][0]["objects"]}
    assert found & {classes[label] for label in target["labels"].tolist()}, predictions
    status, out, err = run_cli(["predict", "--pretrained", "cornernet-fire", str(scene), "--out",
                                str(tmp_path / "fire"), "--device", "cpu"], capsys)
    assert status == 0, err
    provenance = json.loads((tmp_path / "fire" / "predictions.json").read_text())["provenance"]
    assert provenance["variant"] == "cornernet-fire"


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
        assert out.count(variant) == 2  # paper and tiny


def test_bench_lists_the_benchmark_modules(capsys):
    status, out, _ = run_cli(["bench", "--list"], capsys)
    assert status == 0
    modules = sorted(p.stem for p in (Path(__file__).parents[1] / "mcn" / "benchmarks").glob("*.py")
                     if not p.stem.startswith("_"))
    assert sorted(out.split()) == modules


# --------------------------------------------------------------------------- user errors

def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mcn ") and "error:" in lines[0]
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_dataset_is_one_line(tmp_path, capsys):
    status, _, err = run_cli(["train", "--data", f"tt100k:{tmp_path / 'nope'}", "--out",
                              str(tmp_path / "run"), *SMALL_TRAIN], capsys)
    assert_one_line_error(status, err, "mcn train", "TT100K folder", "nope", "not found")
    status, _, err = run_cli(["train", "--data", "voc:x", "--out", str(tmp_path / "run"), *SMALL_TRAIN], capsys)
    assert_one_line_error(status, err, "expected synth, tt100k:ROOT or coco:ANN.json")


def test_missing_or_truncated_checkpoint_is_one_line(workspace, tmp_path, capsys):
    status, _, err = run_cli(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", "synth",
                              "--out", str(tmp_path / "e")], capsys)
    assert_one_line_error(status, err, "none.pt does not exist")
    data = (workspace / "run" / "last.pt").read_bytes()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(data[: len(data) // 2])
    status, _, err = run_cli(["export", "--checkpoint", str(broken), "--onnx", str(tmp_path / "m.onnx")], capsys)
    assert_one_line_error(status, err, "broken.pt is truncated or corrupt")
    assert (workspace / "run" / "last.pt").read_bytes() == data


def test_resuming_with_another_class_count_is_one_line(workspace, tmp_path, capsys):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(workspace / "run", run)
    args = [a if a != "top3" else "top4" for a in SMALL_TRAIN]
    status, _, err = run_cli(["train", "--data", "synth", "--out", str(run), "--resume", *args], capsys)
    assert_one_line_error(status, err, "3 classes but the run asks for 4")
    status, _, err = run_cli(["train", "--data", "synth", "--out", str(run), *SMALL_TRAIN], capsys)
    assert_one_line_error(status, err, "already holds a run", "--resume")


def test_other_mistakes_are_one_line(workspace, tmp_path, capsys):
    status, _, err = run_cli(["predict", "--checkpoint", str(workspace / "run" / "last.pt"),
                              str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "p"),
                              "--device", "cpu"], capsys)
    assert_one_line_error(status, err, "missing.jpg", "not found")
    status, _, err = run_cli(["eval", "--checkpoint", str(workspace / "run" / "last.pt"),
                              "--data", "synth", "--num", "1", "--out", str(tmp_path / "e"),
                              "--scales", "0.5,1", "--scale-band", "48,8"], capsys)
    assert_one_line_error(status, err, "scale band", "(48.0, 8.0)")
    status, _, err = run_cli(["bench", "no_such_benchmark"], capsys)
    assert_one_line_error(status, err, "unknown benchmark(s) no_such_benchmark")
    if not torch.cuda.is_available():
        status, _, err = run_cli(["eval", "--checkpoint", str(workspace / "run" / "last.pt"),
                                  "--data", "synth", "--out", str(tmp_path / "e"), "--device", "cuda"], capsys)
        assert_one_line_error(status, err, "CUDA is not available")


def test_pretrained_mistakes_are_one_line(workspace, tmp_path, capsys):
    scene = workspace / "synth" / "test" / "0.jpg"
    out = ["--out", str(tmp_path / "p"), "--device", "cpu"]
    status, _, err = run_cli(["predict", "--pretrained", "resnet", str(scene), *out], capsys)
    assert_one_line_error(status, err, "--pretrained: no pretrained 'resnet' in preset",
                          "available: cornernet-fire,")
    status, _, err = run_cli(["predict", "--pretrained", "--preset", "huge", str(scene), *out], capsys)
    assert_one_line_error(status, err, "no pretrained preset 'huge'; available: ", "tiny")
    status, _, err = run_cli(["predict", "--pretrained", str(scene), *out], capsys)
    assert_one_line_error(status, err, "no image files given", "put the images before --pretrained")
    status, _, err = run_cli(["predict", "--checkpoint", str(workspace / "run" / "last.pt"),
                              "--preset", "tiny", str(scene), *out], capsys)
    assert_one_line_error(status, err, "--preset goes with --pretrained")


def test_errors_reach_the_shell_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mcn", "eval", "--checkpoint", str(tmp_path / "x.pt"),
                           "--data", "synth", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"mcn eval: error: checkpoint {tmp_path / 'x.pt'} does not exist"]


# --------------------------------------------------------------------------- export pooling

@pytest.mark.parametrize("direction", ["top", "left", "bottom", "right"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (1, 2, 8, 3), (1, 1, 9, 16)])
def test_the_export_pooling_equals_cummax_pooling(direction, shape):
    generator = torch.Generator().manual_seed(sum(shape))
    values = torch.randint(-3, 4, shape, generator=generator).float()  # many ties
    assert torch.equal(scan_corner_pool(values, direction), corner_pool(values, direction))
    noise = torch.randn(shape, generator=generator)
    assert torch.equal(scan_corner_pool(noise, direction), corner_pool(noise, direction))


def test_the_export_pooling_by_hand():
    row = torch.tensor([[[[2.0, 1, 3, 0, 2]]]])  # REFERENCE.md section 2 test vectors
    assert scan_corner_pool(row, "left").flatten().tolist() == [3, 3, 3, 2, 2]
    assert scan_corner_pool(row, "right").flatten().tolist() == [2, 2, 3, 3, 3]
    column = torch.tensor([3.0, 1, 3, 2, 0]).reshape(1, 1, 5, 1)
    assert scan_corner_pool(column, "top").flatten().tolist() == [3, 3, 3, 2, 0]
    assert scan_corner_pool(column, "bottom").flatten().tolist() == [3, 3, 3, 3, 3]
