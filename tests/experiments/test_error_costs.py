"""What each cause of false boxes costs: the operating point with that cause taken out."""

from __future__ import annotations

import json

from mcn.experiments.error_costs import REMOVABLE_CAUSES, error_cost_rows, without_causes
from mcn.experiments.false_detections import causes_at_any_threshold
from tests.experiments.test_false_detections import _box
from tests.experiments.tiny_runs import experiment_rows

CLASSES = ["pn", "pl40", "pl50", "pl80", "i4", "pne"]


def _scene():
    signs = [_box("pn", 10, 10, 30, 30), _box("pl40", 100, 100, 120, 120),
             _box("pl50", 200, 10, 240, 50), _box("i4", 300, 300, 320, 320)]
    found = [_box("pn", 10, 10, 30, 30, 90),          # right
             _box("pn", 11, 10, 30, 31, 15),          # a duplicate: right if the first were gone
             _box("pl80", 200, 10, 240, 50, 70),      # wrong class on the pl50
             _box("pn", 10, 10, 120, 120, 85),        # pn's top-left to pl40's bottom-right
             _box("pl40", 95, 95, 115, 112, 55),      # IoU 0.32 with the pl40
             _box("i4", 600, 600, 620, 620, 95),      # nothing there
             _box("pl40", 100, 100, 120, 120, 20),    # the pl40, low
             _box("i4", 300, 300, 320, 320, 60)]      # the i4
    return {"imgs": {"a": {"objects": signs}}}, {"imgs": {"a": {"objects": found}}}


def test_only_boxes_no_threshold_can_make_right_get_a_cause():
    gt, results = _scene()
    causes = causes_at_any_threshold(gt, results)
    assert causes == {"a": [None, None, "wrong class", "joins two signs", "poor box",
                            "background", None, None]}
    kept, count = without_causes(results, causes, ("joins two signs", "background"))
    assert count == 2 and len(kept["imgs"]["a"]["objects"]) == 6
    assert len(results["imgs"]["a"]["objects"]) == 8  # the input is left as it was


def test_taking_causes_out_moves_the_operating_point():
    gt, results = _scene()
    rows = error_cost_rows((results, gt), (results, gt), CLASSES, 1.0, target=0.85)
    assert [r["removed"] for r in rows] == [[]] + [[c] for c in REMOVABLE_CAUSES] + [
        list(REMOVABLE_CAUSES)]
    assert [r["test_boxes_removed"] for r in rows] == [0, 1, 1, 1, 1, 4]
    decoded, without_all = rows[0], rows[-1]
    # decoded: the highest-scored box is on the background, so accuracy 0.85 is out of
    # reach; without the four false boxes every box down to the pl40 is right (the pl50
    # is never found)
    assert not decoded["goal_met"] and decoded["accuracy"] < 0.85
    assert without_all["accuracy"] == 1.0 and without_all["recall"] == 0.75
    assert 15 < without_all["validation"]["minscore"] <= 20  # the duplicate stays out
    json.dumps(rows)  # the rows go into a results file as they are


def test_error_costs_rows_and_command(runs, tmp_path, capsys):
    from mcn.experiments.error_costs import error_costs_row
    from tests.cli.running import assert_one_line_error, run_cli

    row = error_costs_row(runs / "cornernet-squeeze" / "last.pt", 4, 6, join_ratio=0.65)
    assert row["join_ratio"] == 0.65 and row["test_scenes"] == 6
    assert [r["removed"] for r in row["rows"]][0] == []
    removed = [r["test_boxes_removed"] for r in row["rows"]]
    assert removed[-1] == sum(removed[1:-1])  # every removable box has one cause
    rows = experiment_rows("error-costs", runs, tmp_path / "costs.json", capsys)
    assert [r["variant"] for r in rows] == ["mask-cornernet", "cornernet-squeeze"]
    assert all(r["join_ratio"] is None for r in rows)  # the runs' own decoding
    status, _, err = run_cli(["experiment", "stacks", "--runs", str(runs), "--join-ratio", "0.5",
                              "--quiet"], capsys)
    assert_one_line_error(status, err, "--join-ratio: only operating-point, false-detections, "
                                       "error-costs take it, not stacks")
