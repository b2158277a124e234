"""Table 1 of Yang, Fan and Guo (2020) at book scale: the ablation of the three changes.

The paper trains CornerNet-Squeeze, each change alone (stack fusion, SGE-fire modules,
the mask module) and all three together (Mask-CornerNet) "under the same conditions,
environment, and hyper-parameters", then reports accuracy, recall and mAP on TT100K.
Here the five variants train with one ``TrainConfig`` (the tiny preset by default) on
synthetic scenes and are scored on the same held-out scenes. Taught in chapter 11.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from mcn.experiments.common import flat_row, load_run, score, test_scenes
from mcn.mask_quality import mask_module_report
from mcn.models import VARIANTS
from mcn.train import TrainConfig, train


def train_variants(out_root: str | os.PathLike, config: TrainConfig,
                   variants: Sequence[str] = tuple(VARIANTS), data: str = "synth",
                   device: str | torch.device = "auto", progress: bool = True) -> dict[str, Path]:
    """Train each variant with ``config`` (only ``variant`` changes) into OUT_ROOT/VARIANT.

    A variant whose run already finished (``summary.json`` with all ``config.iters``) is
    kept as it is; an interrupted one resumes. Returns {variant: path of last.pt}.
    """
    out_root = Path(out_root)
    paths = {}
    for variant in variants:
        run_dir = out_root / variant
        if not _finished(run_dir, config.iters):
            resume = (run_dir / "last.pt").is_file()
            train(dataclasses.replace(config, variant=variant), data, run_dir, device,
                  resume=resume, progress=progress)
        paths[variant] = run_dir / "last.pt"
    return paths


def _finished(run_dir: Path, iters: int) -> bool:
    summary = run_dir / "summary.json"
    if not summary.is_file() or not (run_dir / "last.pt").is_file():
        return False
    return json.loads(summary.read_text()).get("iterations", 0) >= iters


def ablation_rows(checkpoints: Mapping[str, str | os.PathLike], num_images: int = 200,
                  device: str | torch.device = "cpu", progress: bool = True) -> list[dict[str, Any]]:
    """Score every checkpoint on the same held-out scenes -> one row per variant.

    Columns: variant, params, iterations, training minutes and CPU minutes (when the run
    folder has its summary.json), then accuracy, recall, mAP and best recall at
    accuracy >= 0.5 for all sizes and each size bin; variants with the mask module add
    ``mask_module`` (``mcn.mask_quality.mask_module_report``: attention and mask IoU).
    """
    rows = []
    for variant, path in checkpoints.items():
        model, config, classes, state = load_run(path, device)
        if state["variant"] != variant:
            raise ValueError(f"{path} holds a {state['variant']} model, not {variant}")
        scenes = test_scenes(config, num_images)
        if progress:
            print(f"ablation: scoring {variant} on {num_images} test scenes", flush=True)
        metrics = score(model, config, classes, scenes, device)
        row = {"variant": variant, "params": sum(p.numel() for p in model.parameters()),
               "iterations": int(state["iteration"]), **_training_time(Path(path)),
               **flat_row(metrics)}
        if model.has_mask:
            row["mask_module"] = mask_module_report(model, scenes, classes, config.eval_size, device)
        rows.append(row)
    return rows


def _training_time(checkpoint: Path) -> dict[str, float | None]:
    """Wall and CPU minutes of the run that wrote ``checkpoint`` (None when unknown).

    The CPU minutes add the training process and its data-loading workers.
    """
    summary = checkpoint.parent / "summary.json"
    if not summary.is_file():
        return {"train_minutes": None, "train_cpu_minutes": None}
    record = json.loads(summary.read_text())
    cpu = record.get("cpu_seconds")
    if cpu is not None:
        cpu += record.get("cpu_seconds_data_workers", 0.0)
    # Four decimals (6 ms): a short test run must not round to zero minutes.
    return {"train_minutes": round(record["seconds"] / 60, 4),
            "train_cpu_minutes": None if cpu is None else round(cpu / 60, 4)}


def ablation_table(rows: Sequence[Mapping[str, Any]]):
    """The rows in Table 1's layout: accuracy A, recall R and mAP per variant (pandas)."""
    import pandas as pd

    table = pd.DataFrame(rows).set_index("variant")
    columns = {"all_accuracy": "A", "all_recall": "R", "all_map": "mAP",
               "all_recall_at_acc_0.5": "R at A>=0.5", "params": "params"}
    return table[list(columns)].rename(columns=columns)
