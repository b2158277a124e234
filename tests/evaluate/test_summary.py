"""evaluate_all agrees with its parts and writes plain JSON."""

from __future__ import annotations

import json
import random

import pytest

from mcn.evaluate import coco_eval, evaluate_all, size_bins, tt100k_eval, write_metrics
from tests.evaluate.hand_scenes import counts, obj, random_scene, scene


def test_evaluate_all_agrees_with_the_parts_and_is_plain_json(tmp_path):
    gt, res = random_scene(random.Random(3), num_images=4)
    # rule 1 as the parts apply it (the random results may leave out an image)
    m = evaluate_all(gt, res, types=["pn", "pl50"], num_thresholds=20, omitted="skip")
    assert set(m) == {"settings", "tt100k", "map", "recall_at_accuracy_0.5", "curves", "coco"}
    for name, size_range in size_bins().items():
        direct = tt100k_eval(gt, res, types=["pn", "pl50"], size_range=size_range)
        assert counts(m["tt100k"][name]) == counts(direct)
        assert m["map"][name] == m["curves"][name]["map"]
        curve = m["curves"][name]
        reached = [r for a, r in zip(curve["accuracy"], curve["recall"]) if a >= 0.5]
        expected = max(reached, default=0.0) if direct["num_gt"] else None  # 0/0: no score
        assert m["recall_at_accuracy_0.5"][name] == expected
    assert counts(m["tt100k"]["all"]["per_class"]["pn"]) == counts(tt100k_eval(
        gt, res, types=["pn", "pl50"])["per_class"]["pn"])
    assert m["coco"] == coco_eval(gt, res, types=["pn", "pl50"])
    json.dumps(m, allow_nan=False)  # only plain Python numbers, no NaN

    path = write_metrics(tmp_path / "m.json", m, provenance={"command": "test"})
    back = json.loads(path.read_text())
    assert back["provenance"] == {"command": "test"}
    assert back["metrics"]["tt100k"]["all"]["correct"] == m["tt100k"]["all"]["correct"]
    default = json.loads(write_metrics(tmp_path / "d.json", m).read_text())
    assert {"git_commit", "torch_version", "time_utc"} <= set(default["provenance"])


# Two images with one 40-pixel sign each: both in the "all" and "medium" bins only.
TRUTH = scene(a=[obj("pn", 0, 0, 40, 40)], b=[obj("pn", 0, 0, 40, 40)])


def test_empty_results_or_results_that_omit_images_do_not_score_as_perfect():
    for results in (scene(), scene(a=[])):  # nothing detected, or only image a looked at
        m = evaluate_all(TRUTH, results, types=["pn"], coco=False)
        assert m["tt100k"]["all"]["recall"] == 0 and m["tt100k"]["all"]["num_gt"] == 2
        assert m["map"]["all"] == 0 and m["recall_at_accuracy_0.5"]["all"] == 0
    half = evaluate_all(TRUTH, scene(a=[obj("pn", 0, 0, 40, 40, 90)]), types=["pn"], coco=False)
    assert half["tt100k"]["all"]["recall"] == 0.5  # image b, omitted, holds a missed sign
    assert half["settings"]["num_images"] == 2
    rule1 = evaluate_all(TRUTH, scene(a=[obj("pn", 0, 0, 40, 40, 90)]), types=["pn"], coco=False,
                         omitted="skip")
    assert rule1["tt100k"]["all"]["recall"] == 1.0  # TT100K's rule 1, asked for by name
    with pytest.raises(ValueError, match="results list no image"):
        tt100k_eval(TRUTH, scene())


def test_size_bins_without_signs_report_none_not_a_perfect_score(tmp_path):
    m = evaluate_all(TRUTH, scene(a=[obj("pn", 0, 0, 40, 40, 90), obj("pn", 200, 0, 300, 100, 80)],
                                  b=[]), types=["pn"], coco=False)
    small, large = m["tt100k"]["small"], m["tt100k"]["large"]
    assert small["num_gt"] == large["num_gt"] == 0
    assert small["recall"] is None and small["accuracy"] is None  # no sign, no detection
    assert large["recall"] is None and large["accuracy"] == 0  # a false alarm, no sign
    for name in ("small", "large"):
        assert m["map"][name] is None and m["recall_at_accuracy_0.5"][name] is None
        assert m["curves"][name]["map"] is None
    assert m["map"]["medium"] is not None and m["tt100k"]["medium"]["recall"] == 0.5
    back = json.loads(write_metrics(tmp_path / "m.json", m, {"command": "test"}).read_text())
    assert back["metrics"]["map"]["small"] is None and back["metrics"]["tt100k"]["large"]["recall"] is None
