"""The operating point: a threshold chosen on one set, figures (and per class) on another."""

from __future__ import annotations

import pytest

from mcn.experiments.operating_point import choose_threshold, test_figures as figures_at


def _box(category, x, score=None):
    box = {"category": category, "bbox": {"xmin": x, "ymin": 10, "xmax": x + 40, "ymax": 50}}
    return box if score is None else {**box, "score": score}


def _sets():
    gt = {"imgs": {"a": {"objects": [_box("pn", 0), _box("pl40", 100)]},
                   "b": {"objects": [_box("pn", 0), _box("pl40", 100)]}}}
    results = {"imgs": {"a": {"objects": [_box("pn", 0, 90), _box("pl40", 100, 30)]},
                        "b": {"objects": [_box("pn", 0, 80), _box("pn", 100, 60)]}}}
    return gt, results


def test_the_threshold_keeps_the_highest_recall_at_the_target_accuracy():
    gt, results = _sets()
    chosen = choose_threshold(gt, results, ["pn", "pl40"], 1.0, target=0.85)
    # 90 and 80 are right, 60 is wrong (a pl40 called pn), 30 is right: a threshold in
    # (60, 80] keeps accuracy 1 and recall 2/4; lower ones drop accuracy below 0.85.
    assert 60 < chosen["minscore"] <= 80 and chosen["recall"] == pytest.approx(0.5)
    assert chosen["accuracy"] == 1.0


def test_figures_name_the_classes_the_threshold_loses():
    gt, results = _sets()
    figures = figures_at(gt, results, ["pn", "pl40"], 1.0, minscore=50)
    assert figures["all"]["accuracy"] == pytest.approx(2 / 3)
    per_class = figures["all"]["per_class"]
    assert per_class["pn"]["recall"] == 1.0 and per_class["pn"]["num_gt"] == 2
    assert per_class["pl40"]["recall"] == 0.0 and per_class["pl40"]["num_gt"] == 2
    assert figures["medium"]["per_class"]["pl40"]["num_gt"] == 2  # 40-pixel boxes: medium
    assert figures["small"]["per_class"]["pl40"]["num_gt"] == 0


def test_the_operating_point_row_of_a_run(runs):
    from mcn.experiments.operating_point import operating_point

    row = operating_point(runs / "mask-cornernet" / "last.pt", num_validation=4, num_test=6)
    assert row["validation"]["scenes"] == 4 and row["test"]["scenes"] == 6
    assert row["validation"]["seed"] != 7919  # the validation stream, not the test one
    threshold = row["validation"]["minscore"]
    assert 0 <= threshold <= 100
    met = row["test"]["all"]["accuracy"] >= 0.85 and row["test"]["all"]["recall"] >= 0.85
    assert row["goal"] == {"target": 0.85, "met": met}
    assert set(row["mask_module"]) >= {"attention", "mask"}


def test_the_joined_pair_rule_reaches_the_decoder(runs, monkeypatch):
    import mcn.decode
    from mcn.experiments.operating_point import operating_point

    calls = []

    def counted(boxes, scores, labels, ratio):
        calls.append(ratio)
        return mcn.joins.joined_pairs(boxes, scores, labels, ratio)

    monkeypatch.setattr(mcn.decode, "joined_pairs", counted)
    plain = operating_point(runs / "cornernet-squeeze" / "last.pt", num_validation=2, num_test=2)
    assert plain["join_ratio"] is None and calls == []
    ruled = operating_point(runs / "cornernet-squeeze" / "last.pt", num_validation=2, num_test=2,
                            join_ratio=0.7)
    assert ruled["join_ratio"] == 0.7 and calls and set(calls) == {0.7}
