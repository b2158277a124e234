"""The outcome view: every box is a true positive, a false positive or a missed sign as
the TT100K protocol counts it, and the drawing shows exactly those."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from mcn import viz as W
from mcn.evaluate import tt100k_eval

TYPES = ["pl50", "pn", "pl80"]


def sign(category, x1, y1, x2, y2, score=None):
    obj = {"category": category, "bbox": {"xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2}}
    return obj if score is None else {**obj, "score": score}


GT = {"imgs": {"a": {"objects": [sign("pl50", 0, 0, 40, 40), sign("pn", 100, 0, 140, 40),
                                 sign("pl80", 200, 200, 240, 240), sign("xx", 50, 50, 90, 90)]}}}
RESULTS = {"imgs": {"a": {"objects": [
    sign("pl50", 2, 0, 42, 40, score=90),      # true positive
    sign("pn", 100, 0, 140, 40, score=30),     # below minscore 40: not counted
    sign("pl80", 300, 300, 340, 340, score=60),  # false positive
    sign("pl50", 0, 100, 40, 140, score=50),   # false positive
    sign("xx", 50, 50, 90, 90, score=99),      # outside the types: not counted
]}}}


def test_outcomes_by_hand_agree_with_tt100k_eval():
    found = W.detection_outcomes(GT, RESULTS, "a", TYPES, minscore=40)
    assert found["det_outcome"].tolist() == ["true positive", "false positive", "false positive"]
    assert found["det_scores"].tolist() == [90, 60, 50]
    assert found["gt_categories"].tolist() == ["pl50", "pn", "pl80"]
    assert found["gt_found"].tolist() == [True, False, False]
    counts = tt100k_eval(GT, RESULTS, types=TYPES, minscore=40)
    assert (found["correct"], found["num_det"], found["num_gt"]) == (
        counts["correct"], counts["num_det"], counts["num_gt"]) == (1, 3, 3)
    lower = W.detection_outcomes(GT, RESULTS, "a", TYPES, minscore=20)
    assert lower["gt_found"].tolist() == [True, True, False] and lower["num_det"] == 4


def test_outcomes_add_up_to_the_protocols_counts_over_images(dataset):
    gt = dataset.tt100k_annotations()
    rng = np.random.default_rng(0)
    results = {"imgs": {}}
    for image_id, image in gt["imgs"].items():
        objects = []
        for obj in image["objects"]:
            b = obj["bbox"]
            shift = float(rng.normal(0, 3))
            objects.append(sign(obj["category"], b["xmin"] + shift, b["ymin"], b["xmax"] + shift,
                                b["ymax"], score=float(rng.uniform(0, 100))))
        objects.append(sign(dataset.classes[0], 5, 5, 25, 25, score=float(rng.uniform(0, 100))))
        results["imgs"][image_id] = {"objects": objects}
    for minscore in (0, 40, 70):
        per_image = [W.detection_outcomes(gt, results, i, dataset.classes, minscore)
                     for i in gt["imgs"]]
        counts = tt100k_eval(gt, results, types=dataset.classes, minscore=minscore,
                             size_range=(0, 1e6))
        assert sum(f["correct"] for f in per_image) == counts["correct"]
        assert sum(f["num_det"] for f in per_image) == counts["num_det"]
        assert sum(f["num_gt"] for f in per_image) == counts["num_gt"]
        assert sum(int((f["det_outcome"] == "true positive").sum()) for f in per_image) \
            == counts["correct"]


def test_outcomes_figure_draws_each_box_in_its_outcomes_colour():
    found = W.detection_outcomes(GT, RESULTS, "a", TYPES, minscore=40)
    image = np.zeros((400, 400, 3), dtype=np.uint8)
    fig = W.outcomes_figure([image], [found], ["scene a"])
    ax = fig.axes[0]
    edges = [p.get_edgecolor() for p in ax.patches if isinstance(p, Rectangle)]
    colour = {name: to_rgba(c) for name, (c, _) in W.OUTCOMES.items()}
    assert edges.count(colour["true positive"]) == 1
    assert edges.count(colour["false positive"]) == 2
    assert edges.count(colour["missed"]) == 2
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["true positive: 1", "false positive: 2", "missed: 2"]
    assert ax.get_title() == "scene a: 1 of 3 found, 2 false"
    assert not fig.axes[1].get_visible()                # one scene: the second slot is empty


def test_outcomes_reject_unknown_images():
    with pytest.raises(ValueError, match="'b' is not in the ground truth"):
        W.detection_outcomes(GT, RESULTS, "b", TYPES)
