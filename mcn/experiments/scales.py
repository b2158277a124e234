"""Multi-scale testing at book scale: choose on validation scenes, report on test scenes.

Not one of the paper's tables. Fig. 9's sweep of the input size (``speed``) shows that
the tiny model finds large signs only when the scene is shrunk and small signs better
when it is enlarged; ``mcn.multiscale`` turns that into a test-time procedure (CornerNet's
multi-scale testing, with SNIP's rule that each scale is trusted only for a band of
object sizes). Its two settings, the scales and the band, are chosen here on
*validation* scenes (the run's validation seed, never used for the test) and only the
chosen setting, beside single-scale testing, is scored on the held-out test scenes.

The network runs once per input size and image; every (scales, band) setting is then
a cheap merge of those decoded corner pairs (:func:`mcn.multiscale.merge_scales`).

Taught in chapter 11.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from mcn.data.sources import synthetic_seeds
from mcn.data.tt100k_format import detections_to_tt100k, targets_to_tt100k
from mcn.evaluate import tt100k_summary
from mcn.experiments.common import TEST_SEED, flat_row, load_run, test_scenes
from mcn.multiscale import check_band, check_scales, merge_scales, scaled_input_sizes
from mcn.inference import detect_by_size

DEFAULT_SCALE_SETS: tuple[tuple[float, ...], ...] = (
    (1.0,), (0.5, 1.0), (0.5, 1.0, 1.25), (0.5, 0.75, 1.0, 1.25), (0.5, 1.0, 1.5))
DEFAULT_BANDS: tuple[tuple[float, float] | None, ...] = (
    None, (8, 48), (12, 48), (12, 64), (16, 64), (16, 96))


def scale_rows(checkpoint: str | os.PathLike,
               scale_sets: Sequence[Sequence[float]] = DEFAULT_SCALE_SETS,
               bands: Sequence[tuple[float, float] | None] = DEFAULT_BANDS,
               num_images: int = 300, seed: int | None = None,
               device: str | torch.device = "cpu", progress: bool = True
               ) -> list[dict[str, Any]]:
    """One row per (scales, band): the TT100K numbers of multi-scale testing.

    ``seed`` picks the scenes: None is the run's validation stream (for choosing), and
    ``mcn.experiments.TEST_SEED`` the held-out test scenes. Single-scale sets get one
    row (no band). Columns: scales, band, input_sizes, relative_cost (network pixels
    per image against the single scale), then ``flat_row``'s.
    """
    model, config, classes, _ = load_run(checkpoint, device)
    if seed is None:
        seed = synthetic_seeds(config.seed)[1]
    scenes = test_scenes(config, num_images, seed=seed)
    sets = [check_scales(s) for s in scale_sets]
    bands = [check_band(b) for b in bands]
    sizes_of = {s: scaled_input_sizes(config.eval_size, s, model.input_multiple) for s in sets}
    all_sizes = sorted({size for sizes in sizes_of.values() for size in sizes})
    if progress:
        print(f"scales: detecting {num_images} scenes at inputs {all_sizes}", flush=True)
    found, metas, targets = detect_by_size(
        model, scenes, all_sizes, device, config.eval_batch_size, config.top_k,
        config.ae_threshold, config.num_dets, soft_nms=False, join_ratio=config.join_ratio)
    gt = targets_to_tt100k(targets, classes)
    ids = [t["image_id"] for t in targets]
    rows = []
    for scales in sets:
        sizes = sizes_of[scales]
        picked = [all_sizes.index(size) for size in sizes]
        cost = sum((size / config.eval_size) ** 2 for size in sizes)
        for band in (bands if len(scales) > 1 else [None]):
            merged = merge_scales([found[i] for i in picked], [metas[i] for i in picked],
                                  sizes, band)
            results = detections_to_tt100k(merged, ids, classes)
            metrics = tt100k_summary(gt, results, classes, config.eval_minscore,
                                     scenes.image_size / 512)
            rows.append({"scales": list(scales), "band": None if band is None else list(band),
                         "input_sizes": sizes, "relative_cost": round(cost, 3),
                         **flat_row(metrics)})
    return rows


def best_setting(rows: Sequence[dict[str, Any]],
                 column: str = "all_recall_at_acc_0.5") -> dict[str, Any]:
    """The row with the highest ``column``; ties go to the cheaper setting."""
    if not rows:
        raise ValueError("best_setting: no rows to choose from")
    return max(rows, key=lambda r: (r[column], -r["relative_cost"]))


def scales_experiment(checkpoint: str | os.PathLike,
                      scale_sets: Sequence[Sequence[float]] = DEFAULT_SCALE_SETS,
                      bands: Sequence[tuple[float, float] | None] = DEFAULT_BANDS,
                      val_images: int = 300, test_images: int = 200, test_seed: int | None = None,
                      device: str | torch.device = "cpu", progress: bool = True
                      ) -> dict[str, Any]:
    """Choose the setting on validation scenes, then score single-scale testing, the
    chosen setting and the same scales without a band on the test scenes.

    Returns {"validation": rows, "chosen": {"scales", "band"}, "test": rows}.
    """
    validation = scale_rows(checkpoint, scale_sets, bands, val_images, None, device, progress)
    chosen = best_setting(validation)
    sets = [(1.0,)] if chosen["scales"] == [1.0] else [(1.0,), chosen["scales"]]
    test = scale_rows(checkpoint, sets, [chosen["band"], None],
                      test_images, TEST_SEED if test_seed is None else test_seed, device,
                      progress)
    return {"validation": validation,
            "chosen": {"scales": chosen["scales"], "band": chosen["band"]}, "test": test}
