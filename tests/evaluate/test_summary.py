"""evaluate_all agrees with its parts and writes plain JSON."""

from __future__ import annotations

import json
import random

from mcn.evaluate import coco_eval, evaluate_all, size_bins, tt100k_eval, write_metrics
from tests.evaluate.hand_scenes import counts, random_scene


def test_evaluate_all_agrees_with_the_parts_and_is_plain_json(tmp_path):
    gt, res = random_scene(random.Random(3), num_images=4)
    m = evaluate_all(gt, res, types=["pn", "pl50"], num_thresholds=20)
    assert set(m) == {"settings", "tt100k", "map", "recall_at_accuracy_0.5", "curves", "coco"}
    for name, size_range in size_bins().items():
        direct = tt100k_eval(gt, res, types=["pn", "pl50"], size_range=size_range)
        assert counts(m["tt100k"][name]) == counts(direct)
        assert m["map"][name] == m["curves"][name]["map"]
        curve = m["curves"][name]
        reached = [r for a, r in zip(curve["accuracy"], curve["recall"]) if a >= 0.5]
        assert m["recall_at_accuracy_0.5"][name] == max(reached, default=0.0)
    assert m["tt100k"]["all"]["per_class"]["pn"] == tt100k_eval(
        gt, res, types=["pn", "pl50"])["per_class"]["pn"]
    assert m["coco"] == coco_eval(gt, res, types=["pn", "pl50"])
    json.dumps(m, allow_nan=False)  # only plain Python numbers, no NaN

    path = write_metrics(tmp_path / "m.json", m, provenance={"command": "test"})
    back = json.loads(path.read_text())
    assert back["provenance"] == {"command": "test"}
    assert back["metrics"]["tt100k"]["all"]["correct"] == m["tt100k"]["all"]["correct"]
    default = json.loads(write_metrics(tmp_path / "d.json", m).read_text())
    assert {"git_commit", "torch_version", "time_utc"} <= set(default["provenance"])
