"""COCO AP through pycocotools on TT100K-form detections."""

from __future__ import annotations

import pytest

from mcn.evaluate import coco_eval
from tests.evaluate.hand_scenes import obj, scene


def test_coco_ap_of_perfect_detections_is_one():
    # Areas 400 (small < 32^2), 2500 (medium), 14400 (large >= 96^2).
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("pl50", 40, 0, 90, 50)],
               b=[obj("i5", 0, 0, 120, 120)], c=[obj("pn", 5, 5, 25, 25)])
    res = scene(a=[obj("pn", 0, 0, 20, 20, 90), obj("pl50", 40, 0, 90, 50, 80)],
                b=[obj("i5", 0, 0, 120, 120, 70)])  # image c is not scored
    m = coco_eval(gt, res)
    for key in ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR100"):
        assert m[key] == pytest.approx(1.0), key


def test_coco_ap_by_hand_and_undefined_ranges():
    # Two small pn signs; detections: a false positive scored 90, an exact hit scored 80.
    # Ranked: FP (precision 0, recall 0), TP (precision 1/2, recall 1/2). Interpolated
    # precision is 1/2 at the 51 recall thresholds 0, 0.01, ..., 0.50 and 0 beyond:
    # AP = 51 * 0.5 / 101 at every IoU. No medium or large sign: those are None.
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("pn", 50, 0, 70, 20)])
    res = scene(a=[obj("pn", 200, 200, 220, 220, 90), obj("pn", 0, 0, 20, 20, 80)])
    m = coco_eval(gt, res)
    assert m["AP"] == pytest.approx(25.5 / 101) and m["AP50"] == pytest.approx(25.5 / 101)
    assert m["AP_small"] == pytest.approx(25.5 / 101)
    assert m["AP_medium"] is None and m["AP_large"] is None


def test_coco_ignores_types_outside_the_list_and_survives_no_detections():
    # A zz sign with no detection would halve AP if zz were a category; it is not.
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("zz", 50, 0, 70, 20)])
    assert coco_eval(gt, scene(a=[obj("pn", 0, 0, 20, 20, 90)]))["AP"] == pytest.approx(1)
    assert coco_eval(gt, scene(a=[]))["AP"] == 0.0
