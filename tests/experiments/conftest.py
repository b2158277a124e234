"""Two variants trained for two iterations, shared by every experiment test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mcn import experiments
from tests.experiments.tiny_runs import VARIANTS, small_config


@pytest.fixture(scope="package")
def runs(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ablation")
    experiments.train_variants(root, small_config(), VARIANTS, device="cpu", progress=False)
    return root
