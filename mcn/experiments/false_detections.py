"""Why a detector is wrong: its false detections and its missed signs, sorted by cause.

Accuracy and recall at a threshold (``operating_point``) say how often a model is wrong,
not why. This sorts every detection above the threshold that the TT100K protocol does
not match (rules 4-5 of ``mcn.evaluate.protocol``: same class, IoU > 0.5, greedy) into
one cause, the first that fits:

* ``duplicate``: a second box on a sign of its class that another detection matched.
* ``wrong class``: a box on a sign (IoU > 0.5) that names another class.
* ``joins two signs``: its top-left corner lies at one sign's top-left corner and its
  bottom-right corner at another sign's bottom-right corner (within ``tolerance`` of
  that sign's long side): two right corners that the embeddings paired wrongly.
* ``poor box``: overlaps a sign (IoU > 0.1) but not enough.
* ``background``: near no sign.

and every sign it misses into ``scored below the threshold`` (a box of its class with
IoU > 0.5 exists, all below the threshold), ``matched elsewhere`` (such a box is above the
threshold but matched another sign), ``found as another class`` and ``not found``.
As in the protocol's size bins (rule 6), a false detection counts in the bin of its own
long side, a correct one and a missed sign in the sign's.
Taught in chapter 9.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from mcn.boxes import box_iou
from mcn.evaluate import size_bins
from mcn.evaluate.protocol import build_problem, greedy_match, scored_images
from mcn.experiments.common import load_run, test_scenes
from mcn.experiments.operating_point import detections, validation_threshold

FALSE_CAUSES = ("duplicate", "wrong class", "joins two signs", "poor box", "background")
MISS_CAUSES = ("scored below the threshold", "matched elsewhere", "found as another class",
               "not found")


def corners_join_two_signs(box: np.ndarray, signs: np.ndarray, tolerance: float) -> bool:
    """Whether ``box`` (4,) runs from one sign's top-left corner to another's bottom-right.

    ``signs`` (N, 4): a corner is at a sign's corner when both coordinates are within
    ``tolerance`` times the sign's long side (at least one pixel).
    """
    if len(signs) < 2:
        return False
    reach = np.maximum(tolerance * (signs[:, 2:] - signs[:, :2]).max(axis=1), 1.0)
    at_tl = np.abs(signs[:, :2] - box[:2]).max(axis=1) <= reach
    at_br = np.abs(signs[:, 2:] - box[2:]).max(axis=1) <= reach
    pairs = at_tl[:, None] & at_br[None, :]  # (top-left sign, bottom-right sign)
    np.fill_diagonal(pairs, False)  # one sign's own two corners make a right box
    return bool(pairs.any())


def _off_sign_cause(box: np.ndarray, ious: np.ndarray, same: np.ndarray,
                    truth_boxes: np.ndarray, tolerance: float) -> str:
    """The cause of a detection that lies on no sign of its class (IoU > 0.5)."""
    if ((ious > 0.5) & ~same).any():
        return "wrong class"
    if corners_join_two_signs(box, truth_boxes, tolerance):
        return "joins two signs"
    return "poor box" if (ious > 0.1).any() else "background"


def _false_cause(box: np.ndarray, category: str, ious: np.ndarray, truth_classes: Sequence[str],
                 truth_boxes: np.ndarray, taken: np.ndarray, tolerance: float) -> str:
    """The cause of one unmatched detection; ``ious`` (G,) against the image's signs."""
    same = np.array([c == category for c in truth_classes], dtype=bool)
    if ((ious > 0.5) & same & taken).any():
        return "duplicate"
    return _off_sign_cause(box, ious, same, truth_boxes, tolerance)


def causes_at_any_threshold(gt: dict, results: dict, tolerance: float = 0.25
                            ) -> dict[str, list[str | None]]:
    """The cause of every detection that no threshold can make right, whatever its score.

    A box on a sign of its own class (IoU > 0.5) is right or a duplicate depending on
    which boxes the threshold keeps; it gets None. Every other box is false at any
    threshold, and gets the cause ``sort_errors`` would give it ("wrong class", "joins
    two signs", "poor box", "background"). Returns {image id: [cause or None per object
    of ``results``, in its order]}.
    """
    parsed = scored_images(gt, results, omitted="skip")
    causes = {}
    for image_id, truth, found in zip(parsed.image_ids, parsed.gt, parsed.det):
        ious = box_iou(truth.boxes, found.boxes)  # (G_i, D_i)
        causes[image_id] = []
        for j, category in enumerate(found.categories):
            same = np.array([c == category for c in truth.categories], dtype=bool)
            on_own_sign = ((ious[:, j] > 0.5) & same).any()
            causes[image_id].append(None if on_own_sign else _off_sign_cause(
                found.boxes[j], ious[:, j], same, truth.boxes, tolerance))
    return causes


def _miss_cause(ious: np.ndarray, category: str, det_classes: Sequence[str], scores: np.ndarray,
                minscore: float) -> str:
    """The cause of one missed sign; ``ious`` (D,) against the image's detections."""
    on_sign = ious > 0.5
    same = np.array([c == category for c in det_classes], dtype=bool)
    kept = scores >= minscore
    if (on_sign & same).any():
        return "matched elsewhere" if (on_sign & same & kept).any() else "scored below the threshold"
    return "found as another class" if (on_sign & kept).any() else "not found"


def sort_errors(gt: dict, results: dict, classes: Sequence[str], minscore: float,
                bins: dict[str, tuple[float, float]], tolerance: float = 0.25) -> dict[str, Any]:
    """Counts of correct, false (by cause) and missed (by cause), per size bin.

    ``gt`` and ``results`` in TT100K form; ``minscore`` on their score scale. Returns
    {"correct", "false", "missed"}: each {cause: {bin: count}} ("correct": {bin: count}).
    """
    parsed = scored_images(gt, results, omitted="miss")
    problem = build_problem(parsed, tuple(classes), 0.5)
    gt_match, det_match = greedy_match(problem, minscore)
    counts = {"correct": {b: 0 for b in bins},
              "false": {c: {b: 0 for b in bins} for c in FALSE_CAUSES},
              "missed": {c: {b: 0 for b in bins} for c in MISS_CAUSES}}

    def add(table: dict, size: float) -> None:
        for name, (lo, hi) in bins.items():
            table[name] += int(lo <= size < hi)

    g0 = d0 = 0
    for truth, found in zip(parsed.gt, parsed.det):
        ious = box_iou(truth.boxes, found.boxes)  # (G_i, D_i)
        g_idx = np.arange(g0, g0 + len(truth.categories))
        d_idx = np.arange(d0, d0 + len(found.categories))
        taken = gt_match[g_idx] >= 0
        for j, d in enumerate(d_idx):
            if problem.det_class[d] < 0 or found.scores[j] < minscore:
                continue
            if det_match[d] >= 0:
                add(counts["correct"], problem.gt_size[det_match[d]])
                continue
            cause = _false_cause(found.boxes[j], found.categories[j], ious[:, j], truth.categories,
                                 truth.boxes, taken, tolerance)
            add(counts["false"][cause], problem.det_size[d])
        for i, g in enumerate(g_idx):
            if problem.gt_class[g] >= 0 and gt_match[g] < 0:
                cause = _miss_cause(ious[i], truth.categories[i], found.categories, found.scores,
                                    minscore)
                add(counts["missed"][cause], problem.gt_size[g])
        g0, d0 = g0 + len(g_idx), d0 + len(d_idx)
    return counts


def false_detections_row(checkpoint: str | os.PathLike, num_validation: int = 300,
                         num_test: int = 1000, target: float = 0.85,
                         ae_threshold: float | None = None,
                         device: str | torch.device = "cpu",
                         join_ratio: float | None = None) -> dict[str, Any]:
    """``sort_errors`` of a trained run on the test scenes at ``operating_point``'s
    threshold (chosen on validation scenes). ``ae_threshold`` overrides the run's
    embedding-distance limit for pairing corners, ``join_ratio`` its joined-pair rule
    (``mcn.joins``), in both steps."""
    model, config, classes, state = load_run(checkpoint, device, ae_threshold=ae_threshold,
                                             join_ratio=join_ratio)
    chosen = validation_threshold(model, config, classes, num_validation, target, device)
    results, gt = detections(model, config, classes, test_scenes(config, num_test), device)
    bins = size_bins(config.image_size / 512)
    return {"variant": config.variant, "iterations": int(state["iteration"]),
            "ae_threshold": config.ae_threshold, "join_ratio": config.join_ratio,
            "test_scenes": num_test, "validation": chosen,
            **sort_errors(gt, results, classes, chosen["minscore"], bins)}
