"""Linear probes of a model's features: the grid read-out, the probe itself, the rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mcn.data.synthetic import SyntheticSigns
from mcn.experiments.common import load_run
from mcn.experiments.feature_probe import (GRID, PIXEL_SIDES, accuracy_by_bin, box_grid,
                                           feature_probe_row, linear_probe, sign_features)
from tests.cli.running import assert_one_line_error, run_cli


def test_box_grid_reads_the_cells_under_the_box():
    fmap = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    box = torch.tensor([8.0, 4.0, 20.0, 16.0])  # cells x 2..4, y 1..3 at stride 4
    torch.testing.assert_close(box_grid(fmap, box, 4, 3), fmap[:, 1:4, 2:5].flatten())
    wide = box_grid(fmap, torch.tensor([0.0, 0.0, 32.0, 32.0]), 4, 2)  # 8 x 8 cells -> 2 x 2
    torch.testing.assert_close(wide[:4], fmap[0].reshape(2, 4, 2, 4).mean((1, 3)).flatten())
    assert box_grid(fmap, torch.tensor([30.0, 30.0, 31.0, 31.0]), 4, 3).shape == (18,)


def test_linear_probe_separates_planted_classes_and_not_noise():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 800)
    centres = rng.normal(0, 3, (4, 20))
    planted = centres[labels] + rng.normal(0, 1, (800, 20))
    assert linear_probe(planted, labels, 4).mean() > 0.97
    noise = rng.normal(0, 1, (800, 20))
    assert linear_probe(noise, labels, 4).mean() < 0.4  # chance is 0.25
    assert linear_probe(planted, labels, 4).shape == (400,)


def test_accuracy_by_bin_splits_the_signs_by_size():
    right = np.array([True, False, True, True])
    sides = np.array([5.0, 10.0, 20.0, 30.0])
    bins = {"all": (0, 1e9), "small": (0, 16), "medium": (16, 48), "large": (48, 1e9)}
    assert accuracy_by_bin(right, sides, bins) == {"all": 0.75, "small": 0.5, "medium": 1.0,
                                                   "large": None}


def test_sign_features_describe_each_probed_sign_at_every_depth(runs):
    model, config, classes, _ = load_run(runs / "mask-cornernet" / "last.pt")
    scenes = SyntheticSigns(4, 128, 3, classes, "uniform", signs_per_image=6.0)
    probed = [0, 2]
    signs = sign_features(model, scenes, 64, probed)
    count = sum(int(np.isin(scenes[i][1]["labels"].numpy(), probed).sum()) for i in range(4))
    assert count > 0 and len(signs["labels"]) == len(signs["sides"]) == count
    assert set(np.unique(signs["labels"])) <= {0, 1}
    features = signs["features"]
    assert list(features) == [f"pixels-{side}" for side in PIXEL_SIDES] + ["stem", "stack-1", "stack-2"]
    assert features["pixels-12"].shape == (count, 3 * 12 ** 2)
    width = model.stem(torch.zeros(1, 3, 64, 64)).shape[1]
    assert features["stem"].shape == (count, width * GRID ** 2)


def test_feature_probe_rows_and_command(runs, tmp_path, capsys):
    row = feature_probe_row(runs / "cornernet-squeeze" / "last.pt", 6, ("pn", "pne"))
    assert row["classes"] == ["pn", "pne"] and sum(row["signs"].values()) > 0
    assert set(row["accuracy"]) == {"pixels-4", "pixels-8", "pixels-12", "stem", "stack-1", "stack-2"}
    assert all(0 <= v <= 1 for bins in row["accuracy"].values() for v in bins.values() if v is not None)
    with pytest.raises(ValueError, match="no class pl40, pl50, pl80, pl60 to probe; the model.s classes: pn, pne, i5"):
        feature_probe_row(runs / "cornernet-squeeze" / "last.pt", 2)
    out = tmp_path / "probe.json"
    status, _, _ = run_cli(["experiment", "feature-probe", "--runs", str(runs), "--num", "4",
                            "--probe-classes", "pn,i5", "--out", str(out), "--quiet",
                            "--threads", "1"], capsys)
    assert status == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["variant"] for r in rows] == ["mask-cornernet", "cornernet-squeeze"]
    status, _, err = run_cli(["experiment", "feature-probe", "--runs", str(runs),
                              "--probe-classes", "pn,pl40", "--quiet"], capsys)
    assert_one_line_error(status, err, "last.pt: no class pl40 to probe")
