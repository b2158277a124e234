"""The TT100K evaluation protocol: accuracy and recall of detections, per size bin.

Zhu et al., "Traffic-Sign Detection and Classification in the Wild", CVPR 2016, define
the Tsinghua-Tencent 100K (TT100K) benchmark and its evaluation (``eval_annos`` in the
benchmark's ``anno_func.py``): accuracy and recall at IoU 0.5 for signs of every size
and per size bin. Yang, Fan and Guo (Mask-CornerNet, 2020) report their results with
it. Taught in chapter 10.

The TT100K protocol, rule by rule (the benchmark's ``eval_annos``), as implemented:

1. Only images present in the result file are scored; an image only in the ground truth
   is skipped, an image only in the results is an error (its truth is unknown).
2. Ground truths and detections whose category is outside the type list (type45 by
   default) are ignored, as if absent.
3. A detection whose "score" is below ``minscore`` is ignored; one without a "score"
   field is never dropped.
4. Pairs are candidates when they share a category and their IoU, intersection over
   union of plain areas (no +1 pixel), is strictly greater than ``iou``.
5. Matching is greedy by descending IoU and one to one; pairs with equal IoU keep the
   order in which they were listed (ground truth major, detection minor).
6. Size is the long side max(w, h); a bin [lo, hi) is half-open. After matching, a ground
   truth outside the bin is dropped together with the detection matched to it; a matched
   detection counts whenever its ground truth is in the bin, whatever its own size; an
   unmatched detection is kept or dropped by its own size.
7. accuracy = correct / detections kept (it is the precision), recall = correct / ground
   truths kept; both are pooled over all scored images and are 1 when the denominator
   is 0.

Scores: the official default ``minscore=40`` implies scores on a 0-100 scale, the scale
``mcn.data.tt100k_format.detections_to_tt100k`` writes; pass ``minscore=0.4`` for
scores in [0, 1].

Where mcn parts from the letter of rules 1 and 7, and only in its reports
(``mcn.evaluate.summary.evaluate_all``, ``mcn eval``, training's validation), it is so
that an empty evaluation never looks perfect: rule 1 would score results that list no
image, or leave out the images with signs, as 1.0, so the reports count every image of
the ground truth (``omitted="miss"``: an image without results has no detections); and a
0/0 ratio is reported as None ("n/a"), not 1. ``tt100k_eval`` keeps both rules, but
refuses results that list no image at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Mapping, Sequence

import numpy as np

from mcn.boxes import box_iou, long_side
from mcn.classes import SIZE_BINS, TYPE45, resolve_classes
from mcn.data.tt100k_format import Annotations, Objects, parse_objects, read_images

#: The official size bins of TT100K (long side in pixels of a 2048 x 2048 image).
OFFICIAL_SIZE_BINS: dict[str, tuple[float, float]] = {
    "all": (SIZE_BINS["small"][0], SIZE_BINS["large"][1]), **SIZE_BINS}


def size_bins(scale: float = 1.0) -> dict[str, tuple[float, float]]:
    """The official size bins (all, small, medium, large) with both edges times ``scale``.

    Use ``scale=1`` for TT100K and for the synthetic scenes at ``image_size=512``: those
    are 512-pixel crops of full-resolution (2048-pixel) street scenes, so their signs keep
    TT100K's sizes. At another image size the synthetic signs shrink with the crop, so
    use ``scale = image_size / 512`` (0.5 at 256).
    """
    if not isinstance(scale, Real) or isinstance(scale, bool) or not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return {name: (lo * scale, hi * scale) for name, (lo, hi) in OFFICIAL_SIZE_BINS.items()}


@dataclass
class ScoredImages:
    """Ground truth and detections of the scored images (those in the result file)."""

    image_ids: list[str]
    gt: list[Objects]
    det: list[Objects]


def scored_images(gt: Annotations, results: Annotations, omitted: str = "skip") -> ScoredImages:
    """Rule 1: ground truth and detections of the images in the result file.

    ``omitted``: "skip" leaves out the images of ``gt`` that the results omit (rule 1);
    "miss" scores them too, as images without detections.
    """
    if omitted not in ("skip", "miss"):
        raise ValueError(f"omitted must be 'skip' or 'miss', got {omitted!r}")
    gt_images = read_images(gt, "ground truth")
    result_images = dict(read_images(results, "results"))
    if omitted == "miss":
        result_images.update({i: {"objects": []} for i in gt_images if i not in result_images})
    missing = [i for i in result_images if i not in gt_images]
    if missing:
        raise ValueError(
            f"results contain {len(missing)} image(s) absent from the ground truth, "
            f"e.g. {missing[0]!r}; their truth is unknown, so they cannot be scored"
        )
    ids = list(result_images)
    return ScoredImages(
        image_ids=ids,
        gt=[parse_objects(gt_images[i], i, "ground truth") for i in ids],
        det=[parse_objects(result_images[i], i, "results") for i in ids],
    )


def resolve_types(types: str | Sequence[str] | None) -> tuple[str, ...]:
    """The scored categories: type45 by default, else a catalogue name or a list."""
    return TYPE45 if types is None else resolve_classes(types)


@dataclass
class Problem:
    """Everything the counts need, flattened over images (G ground truths, D detections).

    Class indices are -1 for a category outside the type list. The candidate pairs are
    those of rule 4, already in the order rule 5 visits them.
    """

    types: tuple[str, ...]
    num_images: int
    gt_class: np.ndarray  # (G,) int
    gt_size: np.ndarray  # (G,) float, long side
    det_class: np.ndarray  # (D,) int
    det_size: np.ndarray  # (D,) float
    det_score: np.ndarray  # (D,) float, +inf without a score
    pair_gt: np.ndarray  # (P,) int, index into the G ground truths
    pair_det: np.ndarray  # (P,) int, index into the D detections


def build_problem(parsed: ScoredImages, types: tuple[str, ...], iou: float) -> Problem:
    """Rules 2 and 4: class indices, sizes, scores and the candidate pairs in rule 5's order."""
    index = {name: i for i, name in enumerate(types)}
    gt_class, gt_size, det_class, det_size, det_score = [], [], [], [], []
    pair_gt, pair_det = [], []
    gt_offset = det_offset = 0
    for gt, det in zip(parsed.gt, parsed.det):
        g_cls = np.array([index.get(c, -1) for c in gt.categories], dtype=np.int64)
        d_cls = np.array([index.get(c, -1) for c in det.categories], dtype=np.int64)
        ious = box_iou(gt.boxes, det.boxes)  # (G_i, D_i)
        candidate = (g_cls[:, None] == d_cls[None, :]) & (g_cls[:, None] >= 0) & (ious > iou)
        overlaps = ious[candidate]
        # np.nonzero walks row-major (ground truth major, detection minor) and a stable
        # sort keeps that order among equal IoUs: rule 5's tie-break.
        gi, di = np.nonzero(candidate)
        order = np.argsort(-overlaps, kind="stable")
        pair_gt.append(gi[order] + gt_offset)
        pair_det.append(di[order] + det_offset)
        gt_class.append(g_cls)
        gt_size.append(long_side(gt.boxes))
        det_class.append(d_cls)
        det_size.append(long_side(det.boxes))
        det_score.append(det.scores)
        gt_offset += len(g_cls)
        det_offset += len(d_cls)

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return Problem(
        types=types,
        num_images=len(parsed.image_ids),
        gt_class=cat(gt_class, np.int64),
        gt_size=cat(gt_size, np.float64),
        det_class=cat(det_class, np.int64),
        det_size=cat(det_size, np.float64),
        det_score=cat(det_score, np.float64),
        pair_gt=cat(pair_gt, np.int64),
        pair_det=cat(pair_det, np.int64),
    )


def _detections_kept(problem: Problem, minscore: float) -> np.ndarray:
    """(D,) bool: in the type list and not below ``minscore`` (rules 2 and 3)."""
    return (problem.det_class >= 0) & ~(problem.det_score < minscore)


def greedy_match(problem: Problem, minscore: float) -> tuple[np.ndarray, np.ndarray]:
    """Rule 5 -> (gt_match (G,), det_match (D,)): the partner's index, or -1."""
    gt_match = np.full(len(problem.gt_class), -1, dtype=np.int64)
    det_match = np.full(len(problem.det_class), -1, dtype=np.int64)
    usable = _detections_kept(problem, minscore)[problem.pair_det]
    gt_taken = [False] * len(gt_match)
    det_taken = [False] * len(det_match)
    for g, d in zip(problem.pair_gt[usable].tolist(), problem.pair_det[usable].tolist()):
        if not gt_taken[g] and not det_taken[d]:
            gt_taken[g] = det_taken[d] = True
            gt_match[g], det_match[d] = d, g
    return gt_match, det_match


def _in_range(size: np.ndarray, size_range: tuple[float, float]) -> np.ndarray:
    lo, hi = size_range
    return (size >= lo) & (size < hi)


def _ratio(numerator: int, denominator: int) -> float:
    return 1.0 if denominator == 0 else numerator / denominator


def without_empty_ratios(counts: dict[str, Any]) -> dict[str, Any]:
    """``count_in_bin``'s counts with accuracy None where no detection was kept and recall
    None where there was no ground truth (rule 7 writes 1 for 0/0, which reads as perfect);
    per-class counts too."""
    out = dict(counts)
    if out["num_det"] == 0:
        out["accuracy"] = None
    if out["num_gt"] == 0:
        out["recall"] = None
    if "per_class" in out:
        out["per_class"] = {name: without_empty_ratios(c) for name, c in out["per_class"].items()}
    return out


def count_in_bin(
    problem: Problem,
    matches: tuple[np.ndarray, np.ndarray],
    minscore: float,
    size_range: tuple[float, float],
    per_class: bool = False,
) -> dict[str, Any]:
    """Rules 6 and 7 on a matching: the counts and ratios for one size bin."""
    gt_match, det_match = matches
    gt_kept = (problem.gt_class >= 0) & _in_range(problem.gt_size, size_range)
    matched = det_match >= 0
    # A matched detection follows its ground truth into or out of the bin; an unmatched
    # one is judged by its own size.
    det_in_bin = _in_range(problem.det_size, size_range)
    det_in_bin[matched] = gt_kept[det_match[matched]]
    det_kept = _detections_kept(problem, minscore) & det_in_bin
    correct = gt_kept & (gt_match >= 0)
    n_correct, n_gt, n_det = int(correct.sum()), int(gt_kept.sum()), int(det_kept.sum())
    out: dict[str, Any] = {
        "accuracy": _ratio(n_correct, n_det),
        "recall": _ratio(n_correct, n_gt),
        "correct": n_correct,
        "num_gt": n_gt,
        "num_det": n_det,
    }
    if per_class:
        k = len(problem.types)
        gts = np.bincount(problem.gt_class[gt_kept], minlength=k)
        dets = np.bincount(problem.det_class[det_kept], minlength=k)
        hits = np.bincount(problem.gt_class[correct], minlength=k)
        out["per_class"] = {
            name: {
                "accuracy": _ratio(int(hits[i]), int(dets[i])),
                "recall": _ratio(int(hits[i]), int(gts[i])),
                "correct": int(hits[i]),
                "num_gt": int(gts[i]),
                "num_det": int(dets[i]),
            }
            for i, name in enumerate(problem.types)
        }
    return out


def check_iou(iou: Any) -> float:
    """``iou`` as a float in [0, 1), or ValueError."""
    if isinstance(iou, bool) or not isinstance(iou, Real) or not 0 <= iou < 1:
        raise ValueError(f"iou must be a number in [0, 1), got {iou!r}")
    return float(iou)


def check_minscore(minscore: Any) -> float:
    """``minscore`` as a float, or ValueError."""
    if isinstance(minscore, bool) or not isinstance(minscore, Real) or math.isnan(minscore):
        raise ValueError(f"minscore must be a number, got {minscore!r}")
    return float(minscore)


def check_size_range(size_range: Any, name: str = "size_range") -> tuple[float, float]:
    """``size_range`` as (lo, hi) with lo < hi, or ValueError naming ``name``."""
    try:
        lo, hi = (float(v) for v in size_range)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi), got {size_range!r}") from None
    if not lo < hi:
        raise ValueError(f"{name} must have lo < hi, got {size_range!r}")
    return lo, hi


def check_num_thresholds(num_thresholds: Any) -> int:
    """``num_thresholds`` as an int >= 2, or ValueError."""
    if type(num_thresholds) is not int or num_thresholds < 2:  # bool is not accepted
        raise ValueError(f"num_thresholds must be an int >= 2, got {num_thresholds!r}")
    return num_thresholds


def tt100k_eval(
    gt: Annotations,
    results: Annotations,
    iou: float = 0.5,
    types: str | Sequence[str] | None = None,
    minscore: float = 40,
    size_range: tuple[float, float] = (0, 400),
) -> dict[str, Any]:
    """Accuracy and recall of ``results`` against ``gt`` by the official TT100K protocol.

    Args:
        gt: ground truth, TT100K form ``{"imgs": {id: {"objects": [{"category",
            "bbox": {"xmin", "ymin", "xmax", "ymax"}}]}}}``, as a path or a dict.
        results: detections in the same form, each object optionally with a "score".
        iou: a pair matches when its IoU is strictly greater than this.
        types: the categories scored; None means type45 (``mcn.classes.TYPE45``); a
            catalogue name ("type42") or an explicit list also work.
        minscore: detections scoring below it are ignored (unscored ones never are).
        size_range: (lo, hi), the half-open range of long sides scored.

    Returns:
        dict with accuracy (= precision), recall, correct, num_gt, num_det (pooled over
        the images in ``results``), num_images, the settings, and ``per_class``: the same
        five numbers for each category of ``types``.

    Raises ValueError when ``results`` list no image: by rule 1 nothing is scored, and
    rule 7 would call that perfect.
    """
    iou, minscore = check_iou(iou), check_minscore(minscore)
    lo, hi = check_size_range(size_range)
    parsed = scored_images(gt, results)
    if not parsed.image_ids:
        raise ValueError("results list no image, so nothing can be scored (only the images "
                         "in the results are; an empty result file is not a perfect one)")
    problem = build_problem(parsed, resolve_types(types), iou)
    counts = count_in_bin(problem, greedy_match(problem, minscore), minscore, (lo, hi), True)
    counts.update(
        num_images=problem.num_images, iou=iou, minscore=minscore, size_range=[lo, hi]
    )
    return counts


def check_bins(bins: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """``bins`` as name -> checked (lo, hi), or ValueError naming the bad bin."""
    if not isinstance(bins, Mapping) or not bins:
        raise ValueError(f"bins must be a non-empty dict name -> (lo, hi), got {bins!r}")
    return {str(name): check_size_range(r, f"size bin {name!r}") for name, r in bins.items()}
