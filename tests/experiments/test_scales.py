"""Multi-scale testing chosen on validation scenes, scored like ``score``."""

from __future__ import annotations

import pytest

from mcn import experiments


def test_scale_rows_agree_with_scoring_and_choose_on_validation(runs):
    path = runs / "mask-cornernet" / "last.pt"
    model, config, classes, _ = experiments.load_run(path)
    sets, bands = [(1.0,), (1.0, 2.0)], [None, (8, 48)]
    rows = experiments.scale_rows(path, sets, bands, num_images=3,
                                  seed=experiments.TEST_SEED, progress=False)
    assert [(r["scales"], r["band"]) for r in rows] == [
        ([1.0], None), ([1.0, 2.0], None), ([1.0, 2.0], [8.0, 48.0])]
    assert [r["input_sizes"] for r in rows] == [[64], [64, 128], [64, 128]]
    assert [r["relative_cost"] for r in rows] == [1.0, 5.0, 5.0]
    # Each setting's numbers are those of scoring the model with that setting.
    scenes = experiments.test_scenes(config, 3)
    for row in rows:
        band = None if row["band"] is None else tuple(row["band"])
        metrics = experiments.score(model, config, classes, scenes, scales=row["scales"],
                                    scale_band=band)
        assert row["all_recall"] == metrics["tt100k"]["all"]["recall"]
        assert row["all_map"] == pytest.approx(metrics["map"])
    tied = {**rows[1], "all_recall_at_acc_0.5": rows[0]["all_recall_at_acc_0.5"]}
    assert experiments.best_setting([tied, rows[0]]) is rows[0]  # a tie goes to the cheaper
    result = experiments.scales_experiment(path, sets, bands, val_images=3, test_images=3,
                                           progress=False)
    assert result["chosen"] in [{"scales": r["scales"], "band": r["band"]}
                                for r in result["validation"]]
    assert result["test"][0]["scales"] == [1.0]
    assert result["test"][0]["all_recall"] == rows[0]["all_recall"]
