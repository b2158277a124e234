"""The command line's frame: help with examples on every subcommand, ``python -m mcn``, and
mistakes reported as one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.cli.running import SMALL_TRAIN, assert_one_line_error, run_cli


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


def test_errors_reach_the_shell_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mcn", "eval", "--checkpoint", str(tmp_path / "x.pt"),
                           "--data", "synth", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"mcn eval: error: checkpoint {tmp_path / 'x.pt'} does not exist"]


def test_resume_keeps_the_runs_own_recipe_and_data_unless_given(tmp_path, capsys):
    scenes, run = tmp_path / "scenes", tmp_path / "run"
    for split, seed in (("train", "1"), ("test", "2")):
        assert run_cli(["data", "synth", "--out", str(scenes), "--num", "4", "--split", split,
                        "--image-size", "128", "--seed", seed, "--quiet", "--classes", "top3"],
                       capsys)[0] == 0
    data = f"tt100k:{scenes}"
    assert run_cli(["train", "--data", data, "--out", str(run), "--variant",
                    "cornernet-squeeze", *SMALL_TRAIN], capsys)[0] == 0  # 2 iterations
    # No --data, --preset, --variant, --classes or sizes: the run's own, not the defaults.
    resume = ["train", "--out", str(run), "--resume", "--workers", "0", "--device", "cpu",
              "--quiet", "--threads", "1"]
    status, _, err = run_cli([*resume, "--iters", "3"], capsys)
    assert status == 0, err
    written = json.loads((run / "config.json").read_text())
    config = written["config"]
    assert (config["variant"], config["iters"], config["input_size"]) == ("cornernet-squeeze", 3, 64)
    assert (written["provenance"]["resumed_from"], written["provenance"]["data"]) == (2, data)
    status, _, err = run_cli(resume, capsys)  # without --iters the run keeps its length
    assert status == 0, err
    assert json.loads((run / "config.json").read_text())["config"]["iters"] == 3
