"""A workspace shared by the command-line tests: synthetic data and a two-iteration run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mcn.cli import main
from tests.cli.running import SMALL_TRAIN


@pytest.fixture(scope="package")
def workspace(tmp_path_factory) -> Path:
    """Synthetic TT100K-layout data and a 2-iteration tiny run, shared by the tests."""
    root = tmp_path_factory.mktemp("cli")
    torch.set_num_threads(1)
    assert main(["data", "synth", "--out", str(root / "synth"), "--num", "3", "--split", "test",
                 "--image-size", "128", "--seed", "1", "--quiet", "--classes", "top3"]) == 0
    assert main(["train", "--data", "synth", "--out", str(root / "run"), *SMALL_TRAIN]) == 0
    return root
