"""Sorting a detector's errors by cause: every false box and missed sign gets one."""

from __future__ import annotations

import numpy as np

from mcn.experiments.false_detections import corners_join_two_signs, sort_errors

BINS = {"all": (0.0, 1000.0), "small": (0.0, 32.0), "large": (32.0, 1000.0)}


def _box(category, x0, y0, x1, y1, score=None):
    box = {"category": category, "bbox": {"xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}}
    return box if score is None else {**box, "score": score}


def test_a_box_from_one_signs_corner_to_anothers_joins_two_signs():
    signs = np.array([[10, 10, 30, 30], [100, 100, 120, 120]], dtype=float)
    assert corners_join_two_signs(np.array([10, 10, 120, 120.0]), signs, 0.25)
    assert corners_join_two_signs(np.array([11, 9, 118, 121.0]), signs, 0.25)  # within 5 px
    assert not corners_join_two_signs(np.array([10, 10, 30, 30.0]), signs, 0.25)  # one sign
    assert not corners_join_two_signs(np.array([10, 10, 90, 90.0]), signs, 0.25)  # br on nothing
    assert not corners_join_two_signs(np.array([10, 10, 120, 120.0]), signs[:1], 0.25)


def test_every_error_gets_the_first_cause_that_fits():
    signs = [_box("pn", 10, 10, 30, 30), _box("pl40", 100, 100, 120, 120),
             _box("pl50", 200, 10, 240, 50), _box("i4", 300, 300, 320, 320),
             _box("pne", 400, 400, 410, 410)]
    found = [_box("pn", 10, 10, 30, 30, 90),          # correct
             _box("pn", 11, 10, 30, 31, 80),          # duplicate of the pn
             _box("pl80", 200, 10, 240, 50, 70),      # wrong class on the pl50
             _box("pn", 10, 10, 120, 120, 60),        # pn's top-left to pl40's bottom-right
             _box("pl40", 95, 95, 115, 112, 55),      # IoU 0.32 with the pl40
             _box("i4", 600, 600, 620, 620, 50),      # nothing there
             _box("pl40", 100, 100, 120, 120, 20),    # the pl40, below the threshold
             _box("pne", 400, 400, 410, 410, 45)]     # the pne, matched
    gt = {"imgs": {"a": {"objects": signs}}}
    results = {"imgs": {"a": {"objects": found}}}
    counts = sort_errors(gt, results, ["pn", "pl40", "pl50", "pl80", "i4", "pne"], 40, BINS)
    assert counts["correct"] == {"all": 2, "small": 2, "large": 0}
    false = {cause: bins["all"] for cause, bins in counts["false"].items()}
    assert false == {"duplicate": 1, "wrong class": 1, "joins two signs": 1, "poor box": 1,
                     "background": 1}
    assert counts["false"]["joins two signs"]["large"] == 1  # by the box's own size
    missed = {cause: bins["all"] for cause, bins in counts["missed"].items()}
    assert missed == {"scored below the threshold": 1, "matched elsewhere": 0,
                      "found as another class": 1, "not found": 1}
    assert counts["missed"]["found as another class"]["large"] == 1  # the 40-pixel pl50


def test_counts_agree_with_the_protocols_accuracy_and_recall():
    from mcn.evaluate import tt100k_eval

    rng = np.random.default_rng(0)
    classes = ["pn", "pl40"]
    gt, results = {"imgs": {}}, {"imgs": {}}
    for image in range(20):
        signs, found = [], []
        for _ in range(3):
            x, y, side = rng.uniform(0, 400, 2).tolist() + [float(rng.uniform(8, 60))]
            category = classes[int(rng.integers(2))]
            signs.append(_box(category, x, y, x + side, y + side))
            jitter = rng.normal(0, side * 0.15, 4)
            found.append(_box(classes[int(rng.integers(2))], x + jitter[0], y + jitter[1],
                              x + side + jitter[2], y + side + jitter[3], float(rng.uniform(0, 100))))
        gt["imgs"][str(image)] = {"objects": signs}
        results["imgs"][str(image)] = {"objects": found}
    counts = sort_errors(gt, results, classes, 50, BINS)
    protocol = tt100k_eval(gt, results, types=classes, minscore=50)
    correct = counts["correct"]["all"]
    false = sum(bins["all"] for bins in counts["false"].values())
    missed = sum(bins["all"] for bins in counts["missed"].values())
    assert correct / (correct + false) == protocol["accuracy"]
    assert correct / (correct + missed) == protocol["recall"]
    assert 0 < correct < 60 and false > 0


def test_false_detections_rows_and_command(runs, tmp_path, capsys):
    from mcn.experiments.false_detections import false_detections_row
    from tests.cli.running import assert_one_line_error, run_cli
    from tests.experiments.tiny_runs import experiment_rows

    row = false_detections_row(runs / "cornernet-squeeze" / "last.pt", 4, 6, ae_threshold=0.3)
    assert row["ae_threshold"] == 0.3 and row["test_scenes"] == 6
    assert set(row["false"]) == {"duplicate", "wrong class", "joins two signs", "poor box",
                                 "background"}
    signs = row["correct"]["all"] + sum(b["all"] for b in row["missed"].values())
    assert signs > 0  # every test sign is either found or missed for a cause
    rows = experiment_rows("false-detections", runs, tmp_path / "errors.json", capsys)
    assert [r["variant"] for r in rows] == ["mask-cornernet", "cornernet-squeeze"]
    status, _, err = run_cli(["experiment", "stacks", "--runs", str(runs), "--ae-threshold", "0.3",
                              "--quiet"], capsys)
    assert_one_line_error(status, err, "--ae-threshold: only false-detections takes it")
    status, _, err = run_cli(["experiment", "false-detections", "--runs", str(runs),
                              "--ae-threshold", "-1", "--quiet"], capsys)
    assert_one_line_error(status, err, "--ae-threshold: expected a positive number")
