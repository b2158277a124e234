"""Fig. 8 at book scale: the number K of corners kept."""

from __future__ import annotations

from mcn import experiments


def test_proposals_keep_at_most_k_squared_pairs(runs):
    path = runs / "cornernet-squeeze" / "last.pt"
    rows = experiments.proposal_rows(path, ks=(1, 4), num_images=3, repeats=2, progress=False)
    assert [r["k"] for r in rows] == [1, 4]
    assert all(r["decode_ms"] > 0 for r in rows)
    # One corner of each kind gives at most one pair per image: recall cannot beat K = 4's
    # by much, and its detections are at most the number of images.
    model, config, classes, _ = experiments.load_run(path)
    few = experiments.score(model, config, classes, experiments.test_scenes(config, 3), top_k=1)
    assert few["tt100k"]["all"]["num_det"] <= 3
    assert rows[0]["all_recall"] == few["tt100k"]["all"]["recall"]
    fig = experiments.plot_proposals(rows)
    left, right = fig.axes
    assert len(left.lines) == 4 and list(right.lines[0].get_ydata()) == [r["decode_ms"] for r in rows]
