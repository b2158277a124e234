"""Every number of the TT100K evaluation at once, and writing them down.

``evaluate_all`` gathers the protocol's counts per size bin (Zhu et al., CVPR 2016),
the accuracy-recall curves and their area (the mAP of Yang, Fan and Guo 2020) and COCO
AP (Lin et al. 2014); ``tt100k_summary`` keeps the compact part that training logs and
the experiments report; ``score_model`` runs a model on a dataset and summarises it.
Taught in chapter 10.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch.utils.data import Dataset

from mcn.data.tt100k_format import Annotations
from mcn.evaluate.coco_ap import coco_from_parsed
from mcn.evaluate.curves import max_score, sweep
from mcn.evaluate.protocol import (build_problem, check_bins, check_iou, check_minscore,
                                   check_num_thresholds, count_in_bin, greedy_match,
                                   resolve_types, scored_images, size_bins,
                                   without_empty_ratios)
from mcn.inference import Forward, detect_dataset
from mcn.provenance import provenance as make_provenance
from mcn.provenance import write_json


def evaluate_all(
    gt: Annotations,
    results: Annotations,
    iou: float = 0.5,
    types: str | Sequence[str] | None = None,
    minscore: float = 40,
    bins: Mapping[str, tuple[float, float]] | None = None,
    num_thresholds: int = 100,
    coco: bool = True,
    omitted: str = "miss",
) -> dict[str, Any]:
    """TT100K numbers for every size bin, their curves and mAP, and COCO AP, in one dict.

    The returned dict holds "settings"; "tt100k", the tt100k_eval counts per size
    bin; "map", the area under each bin's curve; "recall_at_accuracy_0.5", the best
    recall of each curve at accuracy >= 0.5; "curves", each bin's
    PRCurve.to_dict(); and "coco", the coco_eval dict (None when ``coco`` is False).
    Per-class counts are kept for the "all" bin (or the first bin) only.

    Nothing empty scores as perfect: a ratio of 0/0 is None (accuracy without kept
    detections, recall without ground truth), as are the mAP and best recall of a bin
    without ground truth; and every image of ``gt`` is scored, those the results omit as
    images without detections (``omitted="miss"``; "skip" is TT100K's rule 1, for a
    ground truth that holds more images than were detected, e.g. every split).
    """
    iou, minscore = check_iou(iou), check_minscore(minscore)
    num_thresholds = check_num_thresholds(num_thresholds)
    bins = check_bins(size_bins() if bins is None else bins)
    kinds = resolve_types(types)
    parsed = scored_images(gt, results, omitted)
    problem = build_problem(parsed, kinds, iou)
    matches = greedy_match(problem, minscore)
    detailed = "all" if "all" in bins else next(iter(bins))
    tt100k = {
        name: count_in_bin(problem, matches, minscore, size_range, per_class=(name == detailed))
        for name, size_range in bins.items()
    }
    curves = sweep(problem, max_score(parsed), bins, num_thresholds)
    scored = {name: tt100k[name]["num_gt"] > 0 for name in bins}  # else 0/0: None
    return {
        "settings": {
            "iou": iou, "minscore": minscore, "types": list(kinds),
            "bins": {name: list(r) for name, r in bins.items()},
            "num_images": problem.num_images, "num_thresholds": num_thresholds,
            "omitted": omitted,
        },
        "tt100k": {name: without_empty_ratios(counts) for name, counts in tt100k.items()},
        "map": {name: curve.area() if scored[name] else None for name, curve in curves.items()},
        "recall_at_accuracy_0.5": {name: curve.recall_at(0.5) if scored[name] else None
                                   for name, curve in curves.items()},
        "curves": {name: {**curve.to_dict(), **({} if scored[name] else {"map": None})}
                   for name, curve in curves.items()},
        "coco": coco_from_parsed(parsed, kinds, None) if coco else None,
    }


def write_metrics(
    path: str | os.PathLike, metrics: Mapping[str, Any], provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write ``{"provenance": ..., "metrics": metrics}`` as JSON; returns the path.

    ``provenance`` defaults to ``mcn.provenance.provenance()`` (command, commit, time...).
    """
    record = dict(provenance) if provenance is not None else make_provenance()
    return write_json(path, {"provenance": record, "metrics": dict(metrics)})


def tt100k_summary(gt: Annotations, results: Annotations, classes: Sequence[str],
                   minscore: float, bin_scale: float = 1.0) -> dict[str, Any]:
    """The compact summary that training logs and the experiments report.

    Returns {"map": area under the accuracy-recall curve (all sizes), "map_by_bin",
    "recall_at_accuracy_0.5" (per bin, the best recall of the curve at accuracy >= 0.5),
    "minscore", "tt100k": {bin: accuracy, recall, correct, num_gt, num_det}}; the size
    bins are ``size_bins(bin_scale)``.
    """
    metrics = evaluate_all(gt, results, types=list(classes), minscore=minscore,
                           bins=size_bins(bin_scale), coco=False)
    return {
        "map": metrics["map"]["all"],
        "map_by_bin": metrics["map"],
        "recall_at_accuracy_0.5": metrics["recall_at_accuracy_0.5"],
        "minscore": minscore,
        "tt100k": {name: {k: v[k] for k in ("accuracy", "recall", "correct", "num_gt", "num_det")}
                   for name, v in metrics["tt100k"].items()},
    }


def score_model(model: torch.nn.Module, dataset: Dataset, classes: Sequence[str],
                input_size: int, device: str | torch.device = "cpu", *, minscore: float = 40.0,
                bin_scale: float = 1.0, batch_size: int = 8, top_k: int = 100,
                ae_threshold: float = 0.5, num_dets: int = 100, forward: Forward | None = None,
                scales: Sequence[float] = (1.0,),
                scale_band: tuple[float, float] | None = None,
                progress: bool = False, join_ratio: float | None = None) -> dict[str, Any]:
    """Detect every image of ``dataset`` (``mcn.inference.detect_dataset``, whose
    options the keywords are) and summarise by the TT100K protocol (``tt100k_summary``)."""
    results, gt = detect_dataset(model, dataset, classes, input_size, device,
                                 batch_size=batch_size, top_k=top_k, ae_threshold=ae_threshold,
                                 num_dets=num_dets, forward=forward, scales=scales,
                                 scale_band=scale_band, progress=progress, join_ratio=join_ratio)
    return tt100k_summary(gt, results, classes, minscore, bin_scale)
