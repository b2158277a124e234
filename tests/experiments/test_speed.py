"""Table 3 and Fig. 9 at book scale: time and recall against the input side."""

from __future__ import annotations

from mcn import experiments
from tests.experiments.tiny_runs import VARIANTS


def test_speed_rows_time_and_score_each_side(runs):
    checkpoints = experiments.find_checkpoints(runs, VARIANTS)
    rows = experiments.speed_rows(checkpoints, sizes=(64, 128), num_images=2, scene_size=128,
                                  repeats=1, progress=False)
    assert [(r["variant"], r["input_size"]) for r in rows] == [
        (v, s) for v in VARIANTS for s in (64, 128)]
    assert all(r["forward_ms"] > 0 for r in rows)
    sizes = experiments.size_rows()
    assert {r["variant"] for r in sizes} >= set(VARIANTS)
    fig = experiments.plot_speed(rows)
    assert len(fig.axes[0].lines) == len(VARIANTS)


def test_stem_stride_rows_time_both_strides_and_give_their_ratio():
    rows = experiments.stem_stride_rows(variants=VARIANTS[:1], preset="tiny", side=128, rounds=2)
    (row,) = rows
    assert row["variant"] == VARIANTS[0] and row["input_size"] == 128
    assert row["stride4_ms"] > 0 and row["stride8_ms"] > 0
    assert abs(row["speedup"] - row["stride4_ms"] / row["stride8_ms"]) < 0.02
