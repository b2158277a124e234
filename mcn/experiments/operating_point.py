"""Does a trained model reach a goal of accuracy and recall at one score threshold?

The paper reports Mask-CornerNet's accuracy and recall on TT100K at one operating
point. Here that point is chosen where the test scenes cannot influence it: on
validation scenes, the threshold with the highest recall whose accuracy reaches the
target (when none does, the one where the smaller of the two is largest). Accuracy and
recall are then read at that threshold on the held-out test scenes, per size bin,
beside the best recall each curve reaches at accuracy >= 0.85 and >= 0.5. For models
with the mask module, its attention and segmentation (``mcn.mask_quality``) are measured
on the same test scenes. Taught in chapter 11.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from mcn.data.synthetic import SyntheticSigns
from mcn.evaluate import pr_curves, size_bins, tt100k_eval
from mcn.experiments.common import load_run, test_scenes
from mcn.inference import detect_dataset
from mcn.mask_quality import mask_module_report
from mcn.train import TrainConfig, synthetic_seeds

ACCURACY_LEVELS = (0.85, 0.5)


def detections(model: torch.nn.Module, config: TrainConfig, classes: Sequence[str],
               scenes: SyntheticSigns, device: str | torch.device) -> tuple[dict, dict]:
    """(results, gt) of ``model`` on ``scenes`` in TT100K form, decoded as validation does."""
    return detect_dataset(model, scenes, classes, config.eval_size, device,
                          batch_size=config.eval_batch_size, top_k=config.top_k,
                          ae_threshold=config.ae_threshold, num_dets=config.num_dets,
                          join_ratio=config.join_ratio)


def choose_threshold(gt: dict, results: dict, classes: Sequence[str], bin_scale: float,
                     target: float) -> dict[str, Any]:
    """The validation threshold (0-100 score scale) and the accuracy and recall there."""
    curve = pr_curves(gt, results, {"all": size_bins(bin_scale)["all"]}, types=list(classes))["all"]
    points = list(zip(curve.thresholds.tolist(), curve.accuracy.tolist(), curve.recall.tolist()))
    reaching = [p for p in points if p[1] >= target]
    if reaching:
        best = max(reaching, key=lambda p: (p[2], p[1]))
        rule = f"highest recall with accuracy >= {target}"
    else:
        best = max(points, key=lambda p: min(p[1], p[2]))
        rule = f"no threshold reaches accuracy {target}: the largest min(accuracy, recall)"
    return {"minscore": round(best[0], 3), "accuracy": best[1], "recall": best[2], "rule": rule}


def test_figures(gt: dict, results: dict, classes: Sequence[str], bin_scale: float,
                 minscore: float) -> dict[str, Any]:
    """Per size bin: accuracy and recall at ``minscore``, best recall at each accuracy level, mAP."""
    bins = size_bins(bin_scale)
    curves = pr_curves(gt, results, bins, types=list(classes))
    figures = {}
    for name, size_range in bins.items():
        at = tt100k_eval(gt, results, types=list(classes), minscore=minscore, size_range=size_range)
        figures[name] = {"accuracy": at["accuracy"], "recall": at["recall"], "num_gt": at["num_gt"],
                         **{f"recall_at_accuracy_{a}": curves[name].recall_at(a) for a in ACCURACY_LEVELS},
                         "map": curves[name].area()}
        # which classes the threshold keeps and which it loses, in every size bin
        figures[name]["per_class"] = {
            c: {k: at["per_class"][c][k] for k in ("accuracy", "recall", "num_gt")} for c in classes}
    return figures


def validation_scenes(config: TrainConfig, num_validation: int) -> SyntheticSigns:
    """``num_validation`` scenes of the run's validation seed (never trained on)."""
    _, validation_seed = synthetic_seeds(config.seed)
    return SyntheticSigns(num_validation, config.image_size, validation_seed, config.classes,
                          class_balance=config.class_balance)


def validation_threshold(model: torch.nn.Module, config: TrainConfig, classes: Sequence[str],
                         num_validation: int = 300, target: float = 0.85,
                         device: str | torch.device = "cpu") -> dict[str, Any]:
    """``choose_threshold`` on ``num_validation`` scenes of the run's validation seed
    (never trained on) -> {"scenes", "seed", "minscore", "accuracy", "recall", "rule"}."""
    validation = validation_scenes(config, num_validation)
    results, gt = detections(model, config, classes, validation, device)
    chosen = choose_threshold(gt, results, classes, config.image_size / 512, target)
    return {"scenes": num_validation, "seed": validation.seed, **chosen}


def operating_point(checkpoint: str | os.PathLike, num_validation: int = 300, num_test: int = 1000,
                    target: float = 0.85, device: str | torch.device = "cpu",
                    join_ratio: float | None = None) -> dict[str, Any]:
    """Threshold chosen on validation scenes, then the figures on the test scenes.

    Validation scenes come from the run's validation seed (never trained on); the test
    scenes from ``TEST_SEED``, as in every experiment. ``join_ratio`` turns on the
    joined-pair rule (``mcn.joins``) in both steps (None: the run's setting). Returns a
    JSON-ready row.
    """
    model, config, classes, state = load_run(checkpoint, device, join_ratio=join_ratio)
    bin_scale = config.image_size / 512
    chosen = validation_threshold(model, config, classes, num_validation, target, device)
    test = test_scenes(config, num_test)
    results, gt = detections(model, config, classes, test, device)
    figures = test_figures(gt, results, classes, bin_scale, chosen["minscore"])
    row = {"variant": config.variant, "preset": config.preset, "iterations": int(state["iteration"]),
           "init_from": config.init_from, "train_class_balance": config.train_class_balance,
           "train_oversample": config.train_oversample,
           "train_size_oversample": config.train_size_oversample,
           "train_lookalikes": config.train_lookalikes,
           "join_ratio": config.join_ratio,
           "params": sum(p.numel() for p in model.parameters()),
           "validation": chosen,
           "test": {"scenes": num_test, **figures},
           "goal": {"target": target,
                    "met": figures["all"]["accuracy"] >= target and figures["all"]["recall"] >= target}}
    if getattr(model, "has_mask", False):
        row["mask_module"] = mask_module_report(model, test, classes, config.eval_size, device)
    return row
