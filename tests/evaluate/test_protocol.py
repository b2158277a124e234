"""The TT100K protocol rule by rule, against a naive re-implementation, and its errors.

Each hand-made case states its expected counts and how they were worked out. A
randomized test compares the package with a deliberately naive re-implementation of
the protocol written here from its rules (loops over all pairs).
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from mcn.boxes import box_iou
from mcn.evaluate import pr_curves, size_bins, tt100k_eval, write_results
from tests.evaluate.hand_scenes import counts, obj, random_scene, scene


def test_types_outside_the_list_are_ignored():
    # "zz" is not in type45. The pn detection on A matches. The zz ground truth and the
    # two zz detections are ignored. The pn detection lying on the zz ground truth
    # cannot match it (another category), so it is a false positive.
    # -> correct 1, num_gt 1 (A), num_det 2 (pn on A, pn on B); accuracy 1/2, recall 1.
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("zz", 50, 50, 70, 70)])
    res = scene(a=[
        obj("pn", 0, 0, 20, 20, 90), obj("zz", 50, 50, 70, 70, 90),
        obj("zz", 100, 100, 120, 120, 90), obj("pn", 50, 50, 70, 70, 90),
    ])
    r = tt100k_eval(gt, res)
    assert counts(r) == (1, 1, 2)
    assert r["accuracy"] == 0.5 and r["recall"] == 1.0
    # With types=["zz"] only zz counts: B matched by the zz detection on it, the other zz
    # detection is a false positive; pn objects are ignored. -> correct 1, gt 1, det 2.
    assert counts(tt100k_eval(gt, res, types=["zz"])) == (1, 1, 2)


def test_types_accepts_a_catalogue_name():
    # "po" is in type45 but not in type42: one exact po detection on one po sign.
    gt = scene(a=[obj("po", 0, 0, 20, 20)])
    res = scene(a=[obj("po", 0, 0, 20, 20, 90)])
    assert counts(tt100k_eval(gt, res)) == (1, 1, 1)
    assert counts(tt100k_eval(gt, res, types="type42")) == (0, 0, 0)


def test_minscore_drops_low_scores_but_never_unscored_detections():
    # Three signs A, B, C, each with an exact detection: on A score 39.9 (below 40:
    # dropped), on B score 40 (not below: kept), on C no score (never dropped). Two
    # false positives: score 10 (dropped) and no score (kept).
    # -> kept detections: B, C, the unscored false positive: correct 2, gt 3, det 3.
    gt = scene(a=[obj("pn", 0, 0, 20, 20), obj("pn", 40, 0, 60, 20), obj("pn", 80, 0, 100, 20)])
    res = scene(a=[
        obj("pn", 0, 0, 20, 20, 39.9), obj("pn", 40, 0, 60, 20, 40), obj("pn", 80, 0, 100, 20),
        obj("pn", 200, 200, 220, 220, 10), obj("pn", 300, 300, 320, 320),
    ])
    r = tt100k_eval(gt, res, minscore=40)
    assert counts(r) == (2, 3, 3)
    assert r["accuracy"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    # minscore 0 keeps all five: correct 3, gt 3, det 5 -> accuracy 0.6, recall 1.
    r0 = tt100k_eval(gt, res, minscore=0)
    assert counts(r0) == (3, 3, 5) and r0["accuracy"] == pytest.approx(0.6)


def test_matching_only_within_the_same_category():
    # A pn sign; a pne detection exactly on it (IoU 1, wrong class) and a pn detection
    # [0,0,20,16] with IoU 320/400 = 0.8. Only the pn one may match; the pne one is a
    # false positive. -> correct 1, gt 1, det 2.
    gt = scene(a=[obj("pn", 0, 0, 20, 20)])
    res = scene(a=[obj("pne", 0, 0, 20, 20, 99), obj("pn", 0, 0, 20, 16, 50)])
    assert counts(tt100k_eval(gt, res)) == (1, 1, 2)
    # Without the pn detection nothing matches: correct 0, gt 1, det 1 -> both ratios 0.
    r = tt100k_eval(gt, scene(a=[obj("pne", 0, 0, 20, 20, 99)]))
    assert counts(r) == (0, 1, 1) and r["accuracy"] == 0 and r["recall"] == 0


def test_greedy_by_iou_not_by_score():
    # Boxes 10 high, so IoU = x-overlap / x-union.  A=[0,10], B=[4,14];
    # Y=[0,9] score 50: IoU(A,Y) = 9/10 = 0.9,  IoU(B,Y) = 5/14 = 0.36;
    # X=[1,11] score 90: IoU(A,X) = 9/11 = 0.82, IoU(B,X) = 7/13 = 0.54.
    # By IoU: (A,Y) 0.9 first, (A,X) skipped, then (B,X) 0.54 -> 2 correct.
    # Greedy by score (COCO style) would give X to A and leave Y with nothing -> 1.
    gt = scene(a=[obj("pn", 0, 0, 10, 10), obj("pn", 4, 0, 14, 10)])
    res = scene(a=[obj("pn", 1, 0, 11, 10, 90), obj("pn", 0, 0, 9, 10, 50)])
    assert counts(tt100k_eval(gt, res)) == (2, 2, 2)


def test_matching_is_one_to_one():
    # Two identical detections on one sign: one match -> correct 1, gt 1, det 2.
    gt = scene(a=[obj("pn", 0, 0, 20, 20)])
    res = scene(a=[obj("pn", 0, 0, 20, 20, 90), obj("pn", 0, 0, 20, 20, 80)])
    assert counts(tt100k_eval(gt, res)) == (1, 1, 2)
    # One detection on two identical signs: one match -> correct 1, gt 2, det 1.
    gt2 = scene(a=[obj("pn", 0, 0, 20, 20), obj("pn", 0, 0, 20, 20)])
    res2 = scene(a=[obj("pn", 0, 0, 20, 20, 90)])
    r = tt100k_eval(gt2, res2)
    assert counts(r) == (1, 2, 1) and r["recall"] == 0.5


def test_iou_must_be_strictly_greater_than_the_threshold():
    # Sign [0,0,10,10] (area 100), detection [0,0,10,5] (area 50, inside it):
    # IoU = 50 / 100 = 0.5 exactly -> not a match at iou=0.5.
    gt = scene(a=[obj("pn", 0, 0, 10, 10)])
    half = scene(a=[obj("pn", 0, 0, 10, 5, 90)])
    assert counts(tt100k_eval(gt, half, iou=0.5)) == (0, 1, 1)
    assert counts(tt100k_eval(gt, half, iou=0.49)) == (1, 1, 1)
    # [0,0,10,5.5]: IoU 55/100 = 0.55 > 0.5 -> a match.
    assert counts(tt100k_eval(gt, scene(a=[obj("pn", 0, 0, 10, 5.5, 90)]))) == (1, 1, 1)


def test_iou_uses_plain_areas():
    # [0,0,10,10] and [5,0,15,10]: intersection 5*10 = 50, union 100+100-50 = 150.
    # (With the +1 pixel convention it would be 66/176 = 0.375.)
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    assert box_iou(a, b).tolist() == [[pytest.approx(1 / 3), 0.0, 1.0]]


def test_ties_keep_ground_truth_major_order():
    # A=[0,10], B=[4,14] (10 high); X=[2,12]: IoU 8/12 with both A and B (a tie);
    # Y=[0,6]: IoU(A,Y) = 6/10 = 0.6, IoU(B,Y) = 2/14.
    # Listed A then B: pairs (A,X), (B,X), (A,Y): A-X taken, B-X and A-Y blocked -> 1.
    # Listed B then A: pairs (B,X), (A,X), (A,Y): B-X, then A-Y -> 2.
    a, b = obj("pn", 0, 0, 10, 10), obj("pn", 4, 0, 14, 10)
    res = scene(s=[obj("pn", 2, 0, 12, 10), obj("pn", 0, 0, 6, 10)])
    assert tt100k_eval(scene(s=[a, b]), res)["correct"] == 1
    assert tt100k_eval(scene(s=[b, a]), res)["correct"] == 2


def test_ties_keep_detection_minor_order():
    # A=[0,10], B=[3,13] (10 high); X=[0,8] and Y=[2,10] both have IoU 8/10 with A;
    # IoU(B,Y) = 7/11 = 0.64, IoU(B,X) = 5/13 = 0.38.
    # Listed X then Y: (A,X) wins the tie, then (B,Y) -> 2 correct.
    # Listed Y then X: (A,Y) wins, (A,X) blocked, B has no partner left -> 1.
    gt = scene(s=[obj("pn", 0, 0, 10, 10), obj("pn", 3, 0, 13, 10)])
    x, y = obj("pn", 0, 0, 8, 10, 70), obj("pn", 2, 0, 10, 10, 70)
    assert tt100k_eval(gt, scene(s=[x, y]))["correct"] == 2
    assert tt100k_eval(gt, scene(s=[y, x]))["correct"] == 1


def test_size_bins_are_half_open_on_the_long_side():
    # Long sides: 32 (32x20: medium, not small), 31 (small), 96 (large, not medium),
    # 400 (outside [0, 400): in no bin). No detections.
    gt = scene(a=[
        obj("pn", 0, 0, 32, 20), obj("pn", 100, 0, 131, 31),
        obj("pn", 200, 0, 296, 50), obj("pn", 300, 0, 700, 100),
    ])
    res = scene(a=[])
    expected = {"all": 3, "small": 1, "medium": 1, "large": 1}
    for name, size_range in size_bins().items():
        assert tt100k_eval(gt, res, size_range=size_range)["num_gt"] == expected[name], name


def test_matched_detection_counts_in_its_ground_truths_bin():
    # Sign 34x34 (medium), detection 30x30 (small by itself), IoU 900/1156 = 0.78: a match.
    # medium: the sign is in -> correct 1, gt 1, det 1 (the detection follows its sign).
    # small: the sign is out, so it is dropped with its match -> 0, 0, 0 (ratios 1).
    gt = scene(a=[obj("pn", 0, 0, 34, 34)])
    res = scene(a=[obj("pn", 0, 0, 30, 30, 90)])
    bins = size_bins()
    assert counts(tt100k_eval(gt, res, size_range=bins["medium"])) == (1, 1, 1)
    small = tt100k_eval(gt, res, size_range=bins["small"])
    assert counts(small) == (0, 0, 0) and small["accuracy"] == small["recall"] == 1


def test_unmatched_detections_are_binned_by_their_own_size():
    # One small sign far away, missed. False positives 20x20 (small) and 50x40 (medium).
    # small: gt 1, det 1 (the 20x20), correct 0 -> accuracy 0, recall 0.
    # medium: gt 0, det 1 -> accuracy 0, recall 1.  large: nothing -> both 1.
    # all: gt 1, det 2.
    gt = scene(a=[obj("pn", 900, 900, 910, 910)])
    res = scene(a=[obj("pn", 0, 0, 20, 20, 90), obj("pn", 100, 100, 150, 140, 90)])
    bins = size_bins()
    assert counts(tt100k_eval(gt, res, size_range=bins["small"])) == (0, 1, 1)
    medium = tt100k_eval(gt, res, size_range=bins["medium"])
    assert counts(medium) == (0, 0, 1) and medium["accuracy"] == 0 and medium["recall"] == 1
    large = tt100k_eval(gt, res, size_range=bins["large"])
    assert counts(large) == (0, 0, 0) and large["accuracy"] == large["recall"] == 1
    assert counts(tt100k_eval(gt, res)) == (0, 1, 2)


def test_only_images_in_the_results_are_scored():
    # Image b has a sign but is absent from the results: not scored.
    # -> image a only: correct 1, gt 1, det 1; one image scored.
    gt = scene(a=[obj("pn", 0, 0, 20, 20)], b=[obj("pn", 0, 0, 20, 20)])
    res = scene(a=[obj("pn", 0, 0, 20, 20, 90)])
    r = tt100k_eval(gt, res)
    assert counts(r) == (1, 1, 1) and r["recall"] == 1 and r["num_images"] == 1
    # An image in the results but not in the ground truth cannot be scored: an error.
    with pytest.raises(ValueError, match="'c'"):
        tt100k_eval(gt, scene(a=[], c=[]))


def test_empty_denominators_give_one():
    # Nothing at all: 0/0 for both -> 1, 1.
    r = tt100k_eval(scene(a=[]), scene(a=[]))
    assert counts(r) == (0, 0, 0) and r["accuracy"] == 1 and r["recall"] == 1
    # A sign, no detection: accuracy 0/0 -> 1, recall 0/1 -> 0.
    r = tt100k_eval(scene(a=[obj("pn", 0, 0, 9, 9)]), scene(a=[]))
    assert r["accuracy"] == 1 and r["recall"] == 0
    # A detection, no sign: accuracy 0/1 -> 0, recall 0/0 -> 1.
    r = tt100k_eval(scene(a=[]), scene(a=[obj("pn", 0, 0, 9, 9, 90)]))
    assert r["accuracy"] == 0 and r["recall"] == 1


def test_ratios_are_pooled_over_images_not_averaged():
    # Image a: 1 sign found by 1 detection. Image b: 3 signs, no detection.
    # Pooled recall = 1 / 4 (an average of per-image recalls would be (1 + 0) / 2).
    gt = scene(a=[obj("pn", 0, 0, 9, 9)],
               b=[obj("pn", 0, 0, 9, 9), obj("pn", 20, 0, 29, 9), obj("pn", 40, 0, 49, 9)])
    res = scene(a=[obj("pn", 0, 0, 9, 9, 90)], b=[])
    r = tt100k_eval(gt, res)
    assert r["recall"] == 0.25 and r["accuracy"] == 1


def test_per_class_counts():
    # pn: 2 signs, 1 found, plus 1 pn false positive -> correct 1, gt 2, det 2.
    # pl50: 1 sign found -> 1, 1, 1. Every other class: zeros with ratios 1.
    gt = scene(a=[obj("pn", 0, 0, 9, 9), obj("pn", 20, 0, 29, 9), obj("pl50", 40, 0, 49, 9)])
    res = scene(a=[obj("pn", 0, 0, 9, 9, 90), obj("pn", 60, 0, 69, 9, 90),
                   obj("pl50", 40, 0, 49, 9, 90)])
    per_class = tt100k_eval(gt, res)["per_class"]
    assert counts(per_class["pn"]) == (1, 2, 2)
    assert counts(per_class["pl50"]) == (1, 1, 1)
    assert counts(per_class["i2"]) == (0, 0, 0) and per_class["i2"]["accuracy"] == 1
    assert len(per_class) == 45


def naive_iou(a, b):
    ix = max(0.0, min(a["xmax"], b["xmax"]) - max(a["xmin"], b["xmin"]))
    iy = max(0.0, min(a["ymax"], b["ymax"]) - max(a["ymin"], b["ymin"]))
    inter = ix * iy
    area = lambda r: (r["xmax"] - r["xmin"]) * (r["ymax"] - r["ymin"])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def naive_size(o):
    b = o["bbox"]
    return max(b["xmax"] - b["xmin"], b["ymax"] - b["ymin"])


def naive_eval(gt, res, iou, types, minscore, lo, hi):
    """The TT100K protocol written as plainly as possible: loops over all pairs, and
    greedy matching as "repeatedly take the best free pair" (first listed among ties)."""
    correct = num_gt = num_det = 0
    for image_id, image in res["imgs"].items():
        gts, dets = gt["imgs"][image_id]["objects"], image["objects"]
        gt_ok = [g["category"] in types for g in gts]
        det_ok = [d["category"] in types and not ("score" in d and d["score"] < minscore)
                  for d in dets]
        gt_partner, det_partner = [None] * len(gts), [None] * len(dets)
        while True:
            best = None
            for i, g in enumerate(gts):
                for j, d in enumerate(dets):
                    if not (gt_ok[i] and det_ok[j]) or g["category"] != d["category"]:
                        continue
                    if gt_partner[i] is not None or det_partner[j] is not None:
                        continue
                    v = naive_iou(g["bbox"], d["bbox"])
                    if v > iou and (best is None or v > best[0]):
                        best = (v, i, j)
            if best is None:
                break
            _, i, j = best
            gt_partner[i], det_partner[j] = j, i
        in_bin = lambda o: lo <= naive_size(o) < hi  # noqa: E731
        for i, g in enumerate(gts):
            if gt_ok[i] and in_bin(g):
                num_gt += 1
                correct += gt_partner[i] is not None
        for j, d in enumerate(dets):
            if not det_ok[j]:
                continue
            if det_partner[j] is not None:
                num_det += in_bin(gts[det_partner[j]])
            else:
                num_det += in_bin(d)
    return correct, num_gt, num_det


def test_randomized_against_naive_reimplementation():
    rng = random.Random(1234)
    types = ["pn", "pl50"]  # "zz" stays off the list
    checked_matches = 0
    for _ in range(150):
        gt, res = random_scene(rng)
        iou = rng.choice([0.5, 0.3, 0.7])
        minscore = rng.choice([0, 40, 41])
        for name, (lo, hi) in size_bins().items():
            r = tt100k_eval(gt, res, iou=iou, types=types, minscore=minscore,
                            size_range=(lo, hi))
            expected = naive_eval(gt, res, iou, types, minscore, lo, hi)
            assert counts(r) == expected, (name, iou, minscore, gt, res)
            per_class = r["per_class"]
            assert sum(per_class[t]["correct"] for t in types) == expected[0]
            checked_matches += expected[0]
    assert checked_matches > 100  # the scenes really exercise matching


def test_size_bins_scale():
    assert size_bins() == {"all": (0, 400), "small": (0, 32), "medium": (32, 96),
                           "large": (96, 400)}
    assert size_bins(0.5)["medium"] == (16, 48)
    with pytest.raises(ValueError, match="scale"):
        size_bins(0)


def test_files_and_dicts_give_the_same_numbers(tmp_path):
    gt, res = random_scene(random.Random(11), num_images=3)
    gt_path = tmp_path / "annotations.json"
    gt_path.write_text(json.dumps(gt))
    res_path = write_results(tmp_path / "results.json", res, provenance={"command": "t"})
    assert json.loads(res_path.read_text())["provenance"] == {"command": "t"}
    assert tt100k_eval(str(gt_path), res_path, types=["pn"]) == tt100k_eval(gt, res, types=["pn"])


def test_integer_image_ids_are_accepted():
    gt = {"imgs": {10056: {"objects": [obj("pn", 0, 0, 20, 20)]}}}
    res = {"imgs": {"10056": {"objects": [obj("pn", 0, 0, 20, 20, 90)]}}}
    assert counts(tt100k_eval(gt, res)) == (1, 1, 1)


@pytest.mark.parametrize(
    "bad_object, message",
    [
        ({"category": "pn"}, r"image '7', object 1 needs a 'bbox'"),
        ({"category": "pn", "bbox": {"xmin": 0, "ymin": 0, "xmax": 5}}, r"object 1 needs a 'bbox'"),
        ({"bbox": {"xmin": 0, "ymin": 0, "xmax": 5, "ymax": 5}}, r"object 1 needs a 'category'"),
        (dict(obj("pn", 0, 0, 5, 5), score="high"), r"object 1, score must be a finite"),
        (obj("pn", 0, 0, 5, math.nan, 9), r"object 1, bbox ymax must be a finite"),
        (obj("pn", 6, 0, 5, 5, 9), r"object 1 has an inverted bbox"),
        ("pn", r"object 1 is not a dict"),
    ],
)
def test_malformed_results_name_the_image_and_object(bad_object, message):
    gt = scene(**{"7": [obj("pn", 0, 0, 5, 5)]})
    res = {"imgs": {"7": {"objects": [obj("pn", 0, 0, 5, 5, 90), bad_object]}}}
    with pytest.raises(ValueError, match=message):
        tt100k_eval(gt, res)


def test_malformed_ground_truth_and_containers(tmp_path):
    res = scene(a=[])
    with pytest.raises(ValueError, match=r"ground truth image 'a' needs an 'objects' list"):
        tt100k_eval({"imgs": {"a": {"path": "x.jpg"}}}, res)
    with pytest.raises(ValueError, match="no 'imgs'"):
        tt100k_eval({"images": []}, res)
    with pytest.raises(TypeError, match="ground truth must be a path or a dict"):
        tt100k_eval([1, 2], res)
    with pytest.raises(FileNotFoundError, match="results file not found"):
        tt100k_eval(scene(a=[]), tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        tt100k_eval(broken, res)


def test_bad_settings_are_refused():
    gt, res = scene(a=[]), scene(a=[])
    with pytest.raises(ValueError, match="iou"):
        tt100k_eval(gt, res, iou=1.5)
    with pytest.raises(ValueError, match="size_range"):
        tt100k_eval(gt, res, size_range=(96, 32))
    with pytest.raises(ValueError, match="minscore"):
        tt100k_eval(gt, res, minscore="40")
    with pytest.raises(ValueError, match="type99"):
        tt100k_eval(gt, res, types="type99")
    with pytest.raises(ValueError, match="num_thresholds"):
        pr_curves(gt, res, num_thresholds=1)
    with pytest.raises(ValueError, match="size bin 'tiny'"):
        pr_curves(gt, res, bins={"tiny": (5, 1)})
