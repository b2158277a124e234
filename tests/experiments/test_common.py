"""What the experiments share: finding runs, the shipped tiny checkpoints, weights-only
copies, the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from mcn import experiments
from mcn.checkpoint import load_checkpoint
from tests.experiments.tiny_runs import VARIANTS


def test_find_checkpoints_names_every_missing_variant(runs, tmp_path):
    found = experiments.find_checkpoints(runs, VARIANTS)
    assert found == {v: runs / v / "last.pt" for v in VARIANTS}
    with pytest.raises(FileNotFoundError, match="cornernet-fire, cornernet-mask"):
        experiments.find_checkpoints(runs, ["cornernet-fire", "mask-cornernet", "cornernet-mask"])


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


def test_the_shipped_tiny_checkpoints_load_and_follow_the_tiny_preset():
    from mcn.models import VARIANTS as ALL
    from mcn.checkpoint import shipped_checkpoint
    from mcn.train import TINY

    assert shipped_checkpoint("no-such-variant", preset="tiny") is None
    for variant in ALL:
        path = shipped_checkpoint(variant, preset="tiny")
        assert path is not None, f"mcn/weights/tiny/{variant}.pt is missing"
        model, config, classes, state = experiments.load_run(path)
        assert model.variant == variant and "optimizer" not in state
        assert {**config.to_dict(), "variant": None} == {**TINY.to_dict(), "variant": None}
        assert classes == list(TINY.classes) and state["iteration"] == TINY.iters
