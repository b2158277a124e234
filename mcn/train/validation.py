"""Scoring a model during and after training, as the run's configuration says.

``validation_metrics`` detects the validation images with the configuration's input
size and decoding settings and summarises them by the TT100K protocol (Zhu et al., CVPR
2016) that the Mask-CornerNet paper (Yang, Fan and Guo 2020) reports:
``mcn.evaluate.score_model`` with the run's settings. Taught in chapter 9.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from mcn.evaluate import score_model
from mcn.inference import Forward
from mcn.mask_quality import mask_module_report
from mcn.train.config import TrainConfig


def validation_metrics(model: torch.nn.Module, dataset: Dataset, config: TrainConfig,
                       classes: Sequence[str], device: torch.device,
                       bin_scale: float = 1.0, *, input_size: int | None = None,
                       top_k: int | None = None, forward: Forward | None = None,
                       scales: Sequence[float] = (1.0,),
                       scale_band: tuple[float, float] | None = None,
                       progress: bool = False) -> dict[str, Any]:
    """Score ``model`` on ``dataset`` by the TT100K protocol; a compact summary dict.

    ``input_size``, ``top_k`` default to the config's; ``forward``, ``scales`` and
    ``scale_band`` are passed to ``mcn.inference.detect_dataset`` (a replacement
    forward pass; multi-scale testing), and ``progress`` (a bar over the batches). Returns ``mcn.evaluate.tt100k_summary``'s dict:
    "map" (area under the accuracy-recall curve, all sizes), "tt100k" ({bin: accuracy,
    recall, correct, num_gt, num_det}), "map_by_bin", "recall_at_accuracy_0.5", "minscore".
    """
    return score_model(model, dataset, classes, input_size or config.eval_size, device,
                       minscore=config.eval_minscore, bin_scale=bin_scale,
                       batch_size=config.eval_batch_size, top_k=top_k or config.top_k,
                       ae_threshold=config.ae_threshold, num_dets=config.num_dets,
                       forward=forward, scales=scales, scale_band=scale_band,
                       progress=progress, join_ratio=config.join_ratio)


def mask_module_summary(model: torch.nn.Module, dataset: Dataset, config: TrainConfig,
                        classes: Sequence[str], device: torch.device) -> dict[str, list[float]]:
    """Per stack: the EM attention's mean max responsibility and owning bases, and the
    mask's sign-vs-background IoU (``mcn.mask_quality``), rounded for the validation log."""
    report = mask_module_report(model, dataset, classes, config.eval_size, device,
                                batch_size=config.eval_batch_size)
    return {"attention_mean_max": [round(a["mean_max"], 4) for a in report["attention"]],
            "bases_owning": [round(a["bases_owning"], 2) for a in report["attention"]],
            "mask_fg_iou": [round(m["fg_iou"], 4) for m in report["mask"]]}
