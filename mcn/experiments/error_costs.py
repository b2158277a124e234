"""What each kind of false detection costs at the operating point.

``false_detections`` counts a model's errors by cause at one threshold; it does not say
how far the goal would move if a cause were gone, because the threshold would move
too. This answers that the way error-diagnosis tools do (Hoiem, Chodpathumwan and Dai,
ECCV 2012; TIDE, Bolya et al., ECCV 2020): remove every detection of one cause, at any
score, from the validation and the test detections alike, choose the threshold again on
validation (``operating_point``'s rule) and read accuracy and recall on the test scenes.
Only causes that no threshold can turn into a right box are removed
(``causes_at_any_threshold``): a box of another class on a sign, a box joining two
signs' corners, a poorly placed box, a box on the background. Each row is an upper
bound on what fixing that cause (in training or decoding) could buy. Taught in
chapter 9.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from mcn.experiments.common import load_run, test_scenes
from mcn.experiments.false_detections import causes_at_any_threshold
from mcn.experiments.operating_point import (choose_threshold, detections, test_figures,
                                             validation_scenes)

REMOVABLE_CAUSES = ("joins two signs", "wrong class", "poor box", "background")


def without_causes(results: dict, causes: dict[str, list[str | None]],
                   removed: Sequence[str]) -> tuple[dict, int]:
    """A copy of TT100K-form ``results`` without the detections whose cause is in
    ``removed``, and how many were taken out."""
    images, count = {}, 0
    for image_id, entry in results["imgs"].items():
        labels = causes[str(image_id)]
        kept = [obj for obj, cause in zip(entry["objects"], labels) if cause not in removed]
        count += len(entry["objects"]) - len(kept)
        images[image_id] = {**entry, "objects": kept}
    return {**results, "imgs": images}, count


def error_cost_rows(validation: tuple[dict, dict], test: tuple[dict, dict],
                    classes: Sequence[str], bin_scale: float, target: float = 0.85
                    ) -> list[dict[str, Any]]:
    """The operating point as decoded, without each removable cause, and without all.

    ``validation`` and ``test``: (results, gt) in TT100K form. Each row: the causes
    removed, the test boxes removed (at any score), the threshold chosen on validation
    and, on the test scenes, accuracy, recall, best recall at accuracy >= ``target``,
    mAP, and per size bin recall and accuracy at the threshold.
    """
    val_results, val_gt = validation
    test_results, test_gt = test
    val_causes = causes_at_any_threshold(val_gt, val_results)
    test_causes = causes_at_any_threshold(test_gt, test_results)
    settings = [()] + [(cause,) for cause in REMOVABLE_CAUSES] + [REMOVABLE_CAUSES]
    rows = []
    for removed in settings:
        val_kept, _ = without_causes(val_results, val_causes, removed)
        test_kept, count = without_causes(test_results, test_causes, removed)
        chosen = choose_threshold(val_gt, val_kept, classes, bin_scale, target)
        figures = test_figures(test_gt, test_kept, classes, bin_scale, chosen["minscore"])
        overall = figures["all"]
        rows.append({
            "removed": list(removed), "test_boxes_removed": count, "validation": chosen,
            "accuracy": overall["accuracy"], "recall": overall["recall"],
            f"recall_at_accuracy_{target}": overall[f"recall_at_accuracy_{target}"],
            "map": overall["map"],
            "goal_met": overall["accuracy"] >= target and overall["recall"] >= target,
            "by_size": {name: {"accuracy": f["accuracy"], "recall": f["recall"]}
                        for name, f in figures.items() if name != "all"}})
    return rows


def error_costs_row(checkpoint: str | os.PathLike, num_validation: int = 300,
                    num_test: int = 1000, target: float = 0.85,
                    device: str | torch.device = "cpu",
                    join_ratio: float | None = None) -> dict[str, Any]:
    """``error_cost_rows`` of a trained run: its validation scenes (the run's validation
    seed, never trained on) and the test scenes, decoded as validation decodes
    (``join_ratio``: with the joined-pair rule of ``mcn.joins``; None: the run's)."""
    model, config, classes, state = load_run(checkpoint, device, join_ratio=join_ratio)
    val = detections(model, config, classes, validation_scenes(config, num_validation), device)
    test = detections(model, config, classes, test_scenes(config, num_test), device)
    return {"variant": config.variant, "iterations": int(state["iteration"]),
            "join_ratio": config.join_ratio,
            "validation_scenes": num_validation, "test_scenes": num_test, "target": target,
            "rows": error_cost_rows(val, test, classes, config.image_size / 512, target)}
