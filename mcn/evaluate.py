"""Scoring traffic-sign detections: the TT100K protocol, its curves, mAP and COCO AP.

Sources:

* Zhu et al., "Traffic-Sign Detection and Classification in the Wild", CVPR 2016, define
  the Tsinghua-Tencent 100K (TT100K) benchmark and its evaluation (``eval_annos`` in the
  benchmark's ``anno_func.py``): accuracy and recall at IoU 0.5 for signs of every size
  and per size bin, and accuracy-recall curves made by sweeping the score threshold.
* Yang, Fan and Guo, "Mask-CornerNet" (2020) report accuracy, recall and "mAP, the area
  enclosed by the precision-recall curve and the x-axis" with that protocol, and show
  the curves per size in their Fig. 7.
* Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014: AP averaged over
  IoU 0.50:0.95, computed here by pycocotools so the numbers compare with other papers.

The TT100K protocol, rule by rule (../shared/REFERENCE.md section 8), as implemented:

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

Scores: the official default ``minscore=40`` implies scores on a 0-100 scale. Write
scores in percent (``tt100k_objects(..., scores=100 * p)``), or pass ``minscore=0.4``
with scores in [0, 1].

Curves and mAP follow the official plotting code: the threshold sweeps 100 values from 0
to the highest score; the plotted curve adds the end points (precision 0, recall 1) and
(1, 0) and keeps precision's running maximum; mAP is the area under it (``PRCurve``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence, Union

import numpy as np

from mcn.boxes import box_iou, long_side
from mcn.classes import SIZE_BINS, TYPE45, resolve_classes
from mcn.provenance import provenance as make_provenance
from mcn.provenance import write_json

#: A TT100K-style annotation or result file: a path to its JSON, or the loaded dict.
Annotations = Union[str, os.PathLike, Mapping[str, Any]]

#: The official size bins of TT100K (long side in pixels of a 2048 x 2048 image).
OFFICIAL_SIZE_BINS: dict[str, tuple[float, float]] = {
    "all": (SIZE_BINS["small"][0], SIZE_BINS["large"][1]), **SIZE_BINS}

_BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


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


# --------------------------------------------------------------------------------------
# Reading and checking TT100K JSON
# --------------------------------------------------------------------------------------


class _Objects(NamedTuple):
    """The objects of one image as arrays; N objects."""

    boxes: np.ndarray  # (N, 4) float64 xmin, ymin, xmax, ymax
    categories: tuple[str, ...]  # (N,)
    scores: np.ndarray  # (N,) float64; +inf where the object has no "score"


def _load_images(source: Annotations, what: str) -> dict[str, Any]:
    """The "imgs" mapping of a TT100K JSON (path or dict), keyed by image id as str."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{what} file not found: {path}")
        with open(path, encoding="utf-8") as f:
            try:
                source = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"{what} file {path} is not valid JSON: {err}") from err
    if not isinstance(source, Mapping):
        raise TypeError(
            f"{what} must be a path or a dict in TT100K form {{'imgs': {{id: ...}}}}, "
            f"got {type(source).__name__}"
        )
    if "imgs" not in source or not isinstance(source["imgs"], Mapping):
        raise ValueError(f"{what} has no 'imgs' mapping (TT100K form {{'imgs': {{id: ...}}}})")
    images: dict[str, Any] = {}
    for image_id, image in source["imgs"].items():
        key = str(image_id)  # JSON keys are strings; in-memory dicts may use ints
        if key in images:
            raise ValueError(f"{what} lists image id {key!r} twice (as {image_id!r})")
        images[key] = image
    return images


def _number(value: Any, where: str) -> float:
    # The exact-type test is a fast path for what JSON gives (result files hold
    # hundreds of thousands of numbers); bool is excluded since True is an int.
    plain = type(value) in (int, float)
    if not plain and (isinstance(value, bool) or not isinstance(value, Real)):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _parse_objects(image: Any, image_id: str, what: str) -> _Objects:
    """Check one image's entry and turn its objects into arrays."""
    if not isinstance(image, Mapping) or not isinstance(image.get("objects"), list):
        raise ValueError(f"{what} image {image_id!r} needs an 'objects' list")
    boxes, categories, scores = [], [], []
    for k, obj in enumerate(image["objects"]):
        where = f"{what} image {image_id!r}, object {k}"
        if not isinstance(obj, Mapping):
            raise ValueError(f"{where} is not a dict")
        if not isinstance(obj.get("category"), str):
            raise ValueError(f"{where} needs a 'category' string")
        bbox = obj.get("bbox")
        if not isinstance(bbox, Mapping) or any(key not in bbox for key in _BOX_KEYS):
            raise ValueError(f"{where} needs a 'bbox' with keys {', '.join(_BOX_KEYS)}")
        box = [_number(bbox[key], f"{where}, bbox {key}") for key in _BOX_KEYS]
        if box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"{where} has an inverted bbox {dict(bbox)}")
        score = _number(obj["score"], f"{where}, score") if "score" in obj else math.inf
        boxes.append(box)
        categories.append(obj["category"])
        scores.append(score)
    return _Objects(
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        categories=tuple(categories),
        scores=np.asarray(scores, dtype=np.float64),
    )


@dataclass
class _Parsed:
    """Ground truth and detections of the scored images (those in the result file)."""

    image_ids: list[str]
    gt: list[_Objects]
    det: list[_Objects]


def _parse(gt: Annotations, results: Annotations) -> _Parsed:
    gt_images = _load_images(gt, "ground truth")
    result_images = _load_images(results, "results")
    missing = [i for i in result_images if i not in gt_images]
    if missing:
        raise ValueError(
            f"results contain {len(missing)} image(s) absent from the ground truth, "
            f"e.g. {missing[0]!r}; their truth is unknown, so they cannot be scored"
        )
    ids = list(result_images)
    return _Parsed(
        image_ids=ids,
        gt=[_parse_objects(gt_images[i], i, "ground truth") for i in ids],
        det=[_parse_objects(result_images[i], i, "results") for i in ids],
    )


def _resolve_types(types: str | Sequence[str] | None) -> tuple[str, ...]:
    return TYPE45 if types is None else resolve_classes(types)


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array or tensor of numbers") from None


def tt100k_objects(
    boxes: Any,
    labels: Any,
    classes: str | Sequence[str] = "type42",
    scores: Any = None,
) -> dict[str, list[dict[str, Any]]]:
    """One image in TT100K form, ``{"objects": [...]}``, from arrays or tensors.

    Args:
        boxes: (N, 4) xmin, ymin, xmax, ymax in pixels (a dataset target's "boxes", or
            decoded detections).
        labels: (N,) int, 0-based indices into ``classes``.
        classes: catalogue name or list that the labels index.
        scores: (N,) or None (ground truth). Written as given: the official
            ``minscore=40`` expects percent, so pass ``100 * probability`` for it.
    """
    names = resolve_classes(classes)
    box_array = _as_numpy(boxes, "boxes")
    if box_array.size == 0:
        box_array = box_array.reshape(0, 4)  # an image without objects
    label_array = _as_numpy(labels, "labels").reshape(-1)
    n = len(label_array)
    if box_array.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4) like labels, got {box_array.shape}")
    valid = (label_array == np.round(label_array)) & (label_array >= 0) & (label_array < len(names))
    if not valid.all():
        raise ValueError(
            f"labels must be integers in [0, {len(names)}), got {label_array.tolist()}"
        )
    score_list = None
    if scores is not None:
        score_array = _as_numpy(scores, "scores").reshape(-1)
        if score_array.shape != (n,):
            raise ValueError(f"scores must have shape ({n},) like labels, got {score_array.shape}")
        score_list = score_array.tolist()
    objects = []
    for k, (box, label) in enumerate(zip(box_array.tolist(), label_array.astype(int).tolist())):
        entry: dict[str, Any] = {"category": names[label], "bbox": dict(zip(_BOX_KEYS, box))}
        if score_list is not None:
            entry["score"] = score_list[k]
        objects.append(entry)
    return {"objects": objects}


# --------------------------------------------------------------------------------------
# The TT100K protocol
# --------------------------------------------------------------------------------------


@dataclass
class _Problem:
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


def _build_problem(parsed: _Parsed, types: tuple[str, ...], iou: float) -> _Problem:
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

    return _Problem(
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


def _detections_kept(problem: _Problem, minscore: float) -> np.ndarray:
    """(D,) bool: in the type list and not below ``minscore`` (rules 2 and 3)."""
    return (problem.det_class >= 0) & ~(problem.det_score < minscore)


def _greedy_match(problem: _Problem, minscore: float) -> tuple[np.ndarray, np.ndarray]:
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


def _count(
    problem: _Problem,
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


def _check_iou(iou: Any) -> float:
    if isinstance(iou, bool) or not isinstance(iou, Real) or not 0 <= iou < 1:
        raise ValueError(f"iou must be a number in [0, 1), got {iou!r}")
    return float(iou)


def _check_minscore(minscore: Any) -> float:
    if isinstance(minscore, bool) or not isinstance(minscore, Real) or math.isnan(minscore):
        raise ValueError(f"minscore must be a number, got {minscore!r}")
    return float(minscore)


def _check_size_range(size_range: Any, name: str = "size_range") -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in size_range)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi), got {size_range!r}") from None
    if not lo < hi:
        raise ValueError(f"{name} must have lo < hi, got {size_range!r}")
    return lo, hi


def _check_num_thresholds(num_thresholds: Any) -> int:
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
    """
    iou, minscore = _check_iou(iou), _check_minscore(minscore)
    lo, hi = _check_size_range(size_range)
    problem = _build_problem(_parse(gt, results), _resolve_types(types), iou)
    counts = _count(problem, _greedy_match(problem, minscore), minscore, (lo, hi), True)
    counts.update(
        num_images=problem.num_images, iou=iou, minscore=minscore, size_range=[lo, hi]
    )
    return counts


# --------------------------------------------------------------------------------------
# Accuracy-recall curves and mAP
# --------------------------------------------------------------------------------------


@dataclass
class PRCurve:
    """Accuracy (precision) and recall while the score threshold sweeps upwards.

    Attributes (T thresholds, 100 by default as in the official curves):
        thresholds: (T,) the minscore values, evenly spaced from 0 to the highest score.
        accuracy: (T,) precision measured at each threshold.
        recall: (T,) recall measured at each threshold.
    """

    thresholds: np.ndarray
    accuracy: np.ndarray
    recall: np.ndarray

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The curve as the official TT100K plots draw it -> (precision, recall), (T+2,).

        It starts at (precision 0, recall 1), follows the sweep with precision replaced
        by its running maximum along the sweep (so the curve never turns back), and ends
        at (precision 1, recall 0).
        """
        precision = np.maximum.accumulate(np.concatenate([[0.0], self.accuracy, [1.0]]))
        recall = np.concatenate([[1.0], self.recall, [0.0]])
        return precision, recall

    def area(self) -> float:
        """mAP in the paper's sense: the area enclosed by the curve and the recall axis.

        The trapezoid integral of precision over recall along the measured sweep plus the
        closing point (precision 1, recall 0). The plot's opening point (precision 0,
        recall 1) is left out: no threshold reaches it, and counting the segment to it
        would credit a detector with recall it never has (a model that detects nothing
        would score 0.5). It pools all classes: "mean" is the paper's word, not a mean
        over classes.
        """
        precision, recall = self.points()
        precision, recall = precision[1:], recall[1:]  # drop the unreached opening point
        # recall falls along the sweep, so the integral over rising recall reads it backwards
        return float(np.sum(-np.diff(recall) * (precision[1:] + precision[:-1]) / 2))

    def recall_at(self, accuracy: float = 0.5) -> float:
        """The highest recall of any threshold whose accuracy is at least ``accuracy``
        (0 when no threshold reaches it): one operating point read off the curve."""
        reached = self.accuracy >= accuracy
        return float(self.recall[reached].max()) if reached.any() else 0.0

    def to_dict(self) -> dict[str, Any]:
        precision, recall = self.points()
        return {
            "thresholds": self.thresholds.tolist(),
            "accuracy": self.accuracy.tolist(),
            "recall": self.recall.tolist(),
            "curve_precision": precision.tolist(),
            "curve_recall": recall.tolist(),
            "map": self.area(),
        }


def _max_score(parsed: _Parsed) -> float:
    """The highest score of any detection in the result file (0 when none is scored)."""
    scores = [s for det in parsed.det for s in det.scores.tolist() if math.isfinite(s)]
    return max(scores, default=0.0)


def _sweep(
    problem: _Problem,
    max_score: float,
    bins: Mapping[str, tuple[float, float]],
    num_thresholds: int,
) -> dict[str, PRCurve]:
    thresholds = np.linspace(0.0, max_score, num_thresholds)
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in bins}
    for minscore in thresholds.tolist():
        # Matching ignores sizes, so one matching serves every bin.
        matches = _greedy_match(problem, minscore)
        for name, size_range in bins.items():
            measured[name].append(_count(problem, matches, minscore, size_range))
    return {
        name: PRCurve(
            thresholds=thresholds.copy(),
            accuracy=np.array([m["accuracy"] for m in rows]),
            recall=np.array([m["recall"] for m in rows]),
        )
        for name, rows in measured.items()
    }


def _check_bins(bins: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    if not isinstance(bins, Mapping) or not bins:
        raise ValueError(f"bins must be a non-empty dict name -> (lo, hi), got {bins!r}")
    return {str(name): _check_size_range(r, f"size bin {name!r}") for name, r in bins.items()}


def pr_curves(
    gt: Annotations,
    results: Annotations,
    bins: Mapping[str, tuple[float, float]] | None = None,
    iou: float = 0.5,
    types: str | Sequence[str] | None = None,
    num_thresholds: int = 100,
) -> dict[str, PRCurve]:
    """Accuracy-recall curves per size bin (the paper's Fig. 7), bin name -> PRCurve.

    The threshold sweeps ``num_thresholds`` values from 0 to the highest score in the
    result file, as the official curves do; ``bins`` defaults to ``size_bins()``.
    """
    iou, num_thresholds = _check_iou(iou), _check_num_thresholds(num_thresholds)
    bins = _check_bins(size_bins() if bins is None else bins)
    parsed = _parse(gt, results)
    problem = _build_problem(parsed, _resolve_types(types), iou)
    return _sweep(problem, _max_score(parsed), bins, num_thresholds)


def _new_figure(nrows: int = 1, ncols: int = 1, width: float = 4.5):
    # A bare Figure keeps no pyplot state (nothing piles up in loops); Jupyter still
    # shows it when it is a cell's value.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 4.2 * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _draw_curves(ax: Any, curves: Mapping[str, PRCurve], title: str | None) -> None:
    for label, curve in curves.items():
        precision, recall = curve.points()
        ax.plot(precision, recall, label=f"{label} (mAP {curve.area():.3f})")
    ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="accuracy (precision)", ylabel="recall")
    ax.grid(linestyle=":")
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)


def plot_pr_curves(curves: Mapping[str, PRCurve], title: str | None = None):
    """One axes with a curve per entry (label -> PRCurve); returns a matplotlib Figure.

    Axes follow the official TT100K plots: accuracy on x, recall on y.
    """
    if not curves:
        raise ValueError("curves is empty: give at least one label -> PRCurve")
    fig, axes = _new_figure()
    _draw_curves(axes[0, 0], curves, title)
    return fig


def plot_pr_panels(panels: Mapping[str, Mapping[str, PRCurve]]):
    """One panel per size bin, each comparing methods, like the paper's Fig. 7.

    ``panels`` maps a panel title (e.g. "small") to label -> PRCurve. Returns a Figure.
    """
    if not panels:
        raise ValueError("panels is empty: give at least one title -> {label: PRCurve}")
    fig, axes = _new_figure(1, len(panels), width=4.0)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        _draw_curves(ax, curves, title)
    return fig


# --------------------------------------------------------------------------------------
# COCO AP through pycocotools
# --------------------------------------------------------------------------------------

_COCO_STATS = {"AP": 0, "AP50": 1, "AP75": 2, "AP_small": 3, "AP_medium": 4,
               "AP_large": 5, "AR100": 8}


def _coco_datasets(
    parsed: _Parsed, types: tuple[str, ...], minscore: float | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """TT100K form -> (COCO ground-truth dataset, COCO detection annotations)."""
    category_id = {name: i + 1 for i, name in enumerate(types)}
    images = [{"id": k + 1, "file_name": i} for k, i in enumerate(parsed.image_ids)]
    gt_anns: list[dict[str, Any]] = []
    det_anns: list[dict[str, Any]] = []
    for k, (gt, det) in enumerate(zip(parsed.gt, parsed.det)):
        for objects, out in ((gt, gt_anns), (det, det_anns)):
            for box, name, score in zip(objects.boxes.tolist(), objects.categories,
                                        objects.scores.tolist()):
                if name not in category_id or (
                    out is det_anns and minscore is not None and score < minscore
                ):
                    continue
                w, h = box[2] - box[0], box[3] - box[1]
                # COCO needs ids > 0 (its matcher treats 0 as "unmatched"), and an area
                # for its size ranges: the box area here, as there are no masks.
                ann = {"id": len(out) + 1, "image_id": k + 1,
                       "category_id": category_id[name], "bbox": [box[0], box[1], w, h],
                       "area": w * h, "iscrowd": 0}
                if out is det_anns:
                    ann["score"] = score  # +inf for an unscored detection: ranked first
                out.append(ann)
    categories = [{"id": i, "name": name} for name, i in category_id.items()]
    return {"images": images, "categories": categories, "annotations": gt_anns}, det_anns


def _coco_from_parsed(
    parsed: _Parsed, types: tuple[str, ...], minscore: float | None
) -> dict[str, float | None]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_dataset, det_anns = _coco_datasets(parsed, types, minscore)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset = gt_dataset
        coco_gt.createIndex()
        # Built directly rather than by loadRes, which fails on an empty result list.
        coco_dt.dataset = {**gt_dataset, "annotations": det_anns}
        coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # pycocotools writes -1 where a size range has no ground truth: undefined, so None.
    return {name: (None if evaluator.stats[i] < 0 else float(evaluator.stats[i]))
            for name, i in _COCO_STATS.items()}


def coco_eval(
    gt: Annotations,
    results: Annotations,
    types: str | Sequence[str] | None = None,
    minscore: float | None = None,
) -> dict[str, float | None]:
    """COCO box metrics of ``results`` against ``gt`` (both TT100K form) via pycocotools.

    Scores the images in ``results`` only and the categories of ``types`` only (their
    index + 1 is the COCO category id), as the TT100K protocol does. ``minscore``
    defaults to None: AP ranks every detection by score, so no threshold is applied.
    COCO's size ranges are by area (small up to 32^2, medium 32^2 to 96^2, large above,
    in px^2; pycocotools includes both ends of each range), not by long side as TT100K's
    are, so AP_small and TT100K's "small" count different signs. An unscored detection
    ranks above every scored one.

    Returns:
        dict AP (IoU 0.50:0.95), AP50, AP75, AP_small, AP_medium, AP_large, AR100; None
        where a size range holds no ground truth.
    """
    if minscore is not None:
        minscore = _check_minscore(minscore)
    return _coco_from_parsed(_parse(gt, results), _resolve_types(types), minscore)


# --------------------------------------------------------------------------------------
# Everything at once, and writing it down
# --------------------------------------------------------------------------------------


def evaluate_all(
    gt: Annotations,
    results: Annotations,
    iou: float = 0.5,
    types: str | Sequence[str] | None = None,
    minscore: float = 40,
    bins: Mapping[str, tuple[float, float]] | None = None,
    num_thresholds: int = 100,
    coco: bool = True,
) -> dict[str, Any]:
    """TT100K numbers for every size bin, their curves and mAP, and COCO AP, in one dict.

    The returned dict holds "settings"; "tt100k", the tt100k_eval counts per size
    bin; "map", the area under each bin's curve; "recall_at_accuracy_0.5", the best
    recall of each curve at accuracy >= 0.5; "curves", each bin's
    PRCurve.to_dict(); and "coco", the coco_eval dict (None when ``coco`` is False).
    Per-class counts are kept for the "all" bin (or the first bin) only.
    """
    iou, minscore = _check_iou(iou), _check_minscore(minscore)
    num_thresholds = _check_num_thresholds(num_thresholds)
    bins = _check_bins(size_bins() if bins is None else bins)
    kinds = _resolve_types(types)
    parsed = _parse(gt, results)
    problem = _build_problem(parsed, kinds, iou)
    matches = _greedy_match(problem, minscore)
    detailed = "all" if "all" in bins else next(iter(bins))
    tt100k = {
        name: _count(problem, matches, minscore, size_range, per_class=(name == detailed))
        for name, size_range in bins.items()
    }
    curves = _sweep(problem, _max_score(parsed), bins, num_thresholds)
    return {
        "settings": {
            "iou": iou, "minscore": minscore, "types": list(kinds),
            "bins": {name: list(r) for name, r in bins.items()},
            "num_images": problem.num_images, "num_thresholds": num_thresholds,
        },
        "tt100k": tt100k,
        "map": {name: curve.area() for name, curve in curves.items()},
        "recall_at_accuracy_0.5": {name: curve.recall_at(0.5) for name, curve in curves.items()},
        "curves": {name: curve.to_dict() for name, curve in curves.items()},
        "coco": _coco_from_parsed(parsed, kinds, None) if coco else None,
    }


def write_metrics(
    path: str | os.PathLike, metrics: Mapping[str, Any], provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write ``{"provenance": ..., "metrics": metrics}`` as JSON; returns the path.

    ``provenance`` defaults to ``mcn.provenance.provenance()`` (command, commit, time...).
    """
    record = dict(provenance) if provenance is not None else make_provenance()
    return write_json(path, {"provenance": record, "metrics": dict(metrics)})


def write_results(
    path: str | os.PathLike, results: Annotations, provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write detections as a TT100K result JSON with a "provenance" entry beside "imgs".

    The official tools read only "imgs", so the file stays compatible with them.
    """
    images = _load_images(results, "results")
    for image_id, image in images.items():
        _parse_objects(image, image_id, "results")  # refuse to write a malformed file
    record = dict(provenance) if provenance is not None else make_provenance()
    return write_json(path, {"provenance": record, "imgs": images})
