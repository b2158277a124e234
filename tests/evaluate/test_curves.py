"""Accuracy-recall curves and their area (the paper's mAP): by hand, against the protocol,
monotone, and drawn."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mcn.evaluate import (
    PRCurve,
    plot_pr_curves,
    plot_pr_panels,
    pr_curves,
    size_bins,
    tt100k_eval,
)
from tests.evaluate.hand_scenes import obj, random_scene, scene


def test_pr_curve_points_and_area_by_hand():
    # Two thresholds: (accuracy 0.5, recall 1) then (1.0, 0.5). With the end points the
    # curve is (0,1) (0.5,1) (1,0.5) (1,0); trapezoids of recall over precision:
    # 0.5*1 + 0.5*(1+0.5)/2 + 0 = 0.875.
    curve = PRCurve(np.array([0.0, 1.0]), np.array([0.5, 1.0]), np.array([1.0, 0.5]))
    precision, recall = curve.points()
    assert precision.tolist() == [0.0, 0.5, 1.0, 1.0] and recall.tolist() == [1, 1, 0.5, 0]
    assert curve.area() == pytest.approx(0.875)
    # A dip in accuracy is replaced by the running maximum, as the official curves do:
    # (0,1) (0.8,1) (0.8,0.5) (1,0) -> 0.8*1 + 0 + 0.2*0.25 = 0.85.
    dip = PRCurve(np.array([0.0, 1.0]), np.array([0.8, 0.6]), np.array([1.0, 0.5]))
    assert dip.points()[0].tolist() == [0.0, 0.8, 0.8, 1.0]
    assert dip.area() == pytest.approx(0.85)


def test_pr_curves_sweep_the_official_thresholds_and_match_tt100k_eval():
    gt, res = random_scene(random.Random(7), num_images=4)
    curves = pr_curves(gt, res, types=["pn", "pl50"])
    assert set(curves) == {"all", "small", "medium", "large"}
    top = max(o["score"] for im in res["imgs"].values() for o in im["objects"] if "score" in o)
    for name, curve in curves.items():
        assert curve.thresholds.shape == (100,)
        assert curve.thresholds[0] == 0 and curve.thresholds[-1] == pytest.approx(top)
        for k in range(0, 100, 11):
            r = tt100k_eval(gt, res, types=["pn", "pl50"], minscore=curve.thresholds[k],
                            size_range=size_bins()[name])
            assert curve.accuracy[k] == r["accuracy"] and curve.recall[k] == r["recall"]


def test_pr_curves_are_monotone_in_the_threshold():
    rng = random.Random(99)
    for _ in range(25):
        gt, res = random_scene(rng, num_images=3)
        for curve in pr_curves(gt, res, types=["pn", "pl50"], num_thresholds=25).values():
            precision, recall = curve.points()
            assert np.all(np.diff(recall) <= 0), "recall must fall as the threshold rises"
            assert np.all(np.diff(precision) >= 0)
            assert 0 <= curve.area() <= 1


def test_map_counts_only_the_recall_a_detector_reaches():
    # Nothing detected: every threshold gives accuracy 1 and recall 0, so the area is 0
    # (with the plot's opening point (0, 1) it would be 0.5 and an empty model would look
    # like a fair detector).
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("pl50", 40, 0, 90, 50)],
               b=[obj("i5", 0, 0, 120, 120), obj("pn", 200, 200, 210, 215)])
    empty = {"imgs": {k: {"objects": []} for k in gt["imgs"]}}
    for name, curve in pr_curves(gt, empty).items():
        assert curve.area() == 0.0, name
    # Half the signs found, perfectly: precision 1 up to recall 0.5 and no further.
    half = {"imgs": {"a": {"objects": [dict(o, score=60) for o in gt["imgs"]["a"]["objects"]]},
                     "b": {"objects": []}}}
    assert pr_curves(gt, half)["all"].area() == pytest.approx(0.5)
    assert pr_curves(gt, half)["all"].recall_at(0.5) == pytest.approx(0.5)
    assert pr_curves(gt, empty)["all"].recall_at(0.5) == 0.0


def test_recall_at_reads_the_best_operating_point():
    curve = PRCurve(np.array([0.0, 1.0, 2.0]), np.array([0.3, 0.6, 0.9]), np.array([0.8, 0.5, 0.2]))
    assert curve.recall_at(0.5) == 0.5 and curve.recall_at(0.9) == 0.2
    assert curve.recall_at(0.95) == 0.0 and curve.recall_at(0.0) == 0.8


def test_map_of_a_perfect_detector_is_one():
    # Every sign found exactly, with scores spread out: at each threshold accuracy is 1
    # and only recall falls, so the curve is the unit square's top and right edges.
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("pl50", 40, 0, 90, 50)],
               b=[obj("i5", 0, 0, 120, 120), obj("pn", 200, 200, 210, 215)])
    res = {"imgs": {k: {"objects": [dict(o, score=s) for o, s in
                                    zip(v["objects"], (30, 95))]}
                    for k, v in gt["imgs"].items()}}
    for name, curve in pr_curves(gt, res).items():
        assert curve.area() == pytest.approx(1.0), name


def test_plots_return_figures():
    from matplotlib.figure import Figure

    gt, res = random_scene(random.Random(5))
    curves = pr_curves(gt, res, types=["pn", "pl50"], num_thresholds=10)
    fig = plot_pr_curves(curves, title="synthetic")
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 4
    panels = plot_pr_panels({name: {"ours": c} for name, c in curves.items()})
    assert isinstance(panels, Figure) and len(panels.axes) == 4
    with pytest.raises(ValueError):
        plot_pr_curves({})
    # two columns: a 2 x 2 grid, panels in reading order; three panels leave one slot empty
    grid = plot_pr_panels({name: {"ours": c} for name, c in curves.items()}, columns=2)
    positions = [ax.get_position() for ax in grid.axes]
    assert positions[0].y0 == positions[1].y0 > positions[2].y0 == positions[3].y0
    assert [ax.get_title() for ax in grid.axes] == list(curves)
    three = plot_pr_panels({name: {"ours": c} for name, c in list(curves.items())[:3]}, columns=2)
    assert [ax.get_visible() for ax in three.axes] == [True, True, True, False]
