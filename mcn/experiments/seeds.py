"""Training noise: Table 1 of Yang, Fan and Guo (2020) repeated with several seeds.

A ten-minute model lands somewhere different each time it is trained: the seed picks
the initial weights and the order of the training scenes. Training every variant with
a few seeds gives each number of the ablation a spread, and a difference between two
variants counts only where it is larger than that spread. Here "larger" is the plain
rule a reader can check by eye: the two variants' ranges over the seeds (lowest to
highest) do not overlap. Taught in chapter 11.

Run folders are laid out as OUT/seed<S>/<VARIANT>/ (``mcn train`` run folders).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from mcn.experiments.ablation import ablation_rows, train_variants
from mcn.experiments.common import find_checkpoints
from mcn.train import TrainConfig

# The columns whose spread over seeds the chapter reports and compares.
METRICS = ("all_accuracy", "all_recall", "all_map", "all_recall_at_acc_0.5")


def seed_folder(root: str | os.PathLike, seed: int) -> Path:
    """The folder that holds every variant trained with ``seed``: ROOT/seed<SEED>."""
    return Path(root) / f"seed{seed}"


def train_seeds(out_root: str | os.PathLike, config: TrainConfig, variants: Sequence[str],
                seeds: Sequence[int], device: str | torch.device = "auto",
                progress: bool = True) -> dict[int, dict[str, Path]]:
    """``train_variants`` once per seed (only ``config.seed`` changes) -> {seed: {variant: last.pt}}."""
    return {seed: train_variants(seed_folder(out_root, seed), dataclasses.replace(config, seed=seed),
                                 variants, device=device, progress=progress)
            for seed in seeds}


def find_seed_checkpoints(root: str | os.PathLike, variants: Sequence[str],
                          seeds: Sequence[int]) -> dict[int, dict[str, Path]]:
    """{seed: {variant: checkpoint}} under ROOT/seed<S>/ (``find_checkpoints`` per seed)."""
    return {seed: find_checkpoints(seed_folder(root, seed), variants) for seed in seeds}


def seed_rows(checkpoints: Mapping[int, Mapping[str, str | os.PathLike]], num_images: int = 200,
              device: str | torch.device = "cpu", progress: bool = True) -> list[dict[str, Any]]:
    """``ablation_rows`` of every seed on the same test scenes, each row with its ``seed``."""
    rows = []
    for seed, by_variant in checkpoints.items():
        rows += [{"seed": seed, **row}
                 for row in ablation_rows(by_variant, num_images, device, progress)]
    return rows


def spread_rows(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = METRICS
                ) -> list[dict[str, Any]]:
    """One row per variant: for every metric its mean, sample standard deviation, lowest and
    highest value over the seeds (``METRIC``, ``METRIC_std``, ``METRIC_min``, ``METRIC_max``).

    ``METRIC`` holds the mean, so these rows read like single-seed ablation rows.
    """
    summary = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        row: dict[str, Any] = {"variant": variant, "seeds": [r["seed"] for r in mine],
                               "params": mine[0]["params"]}
        for metric in metrics:
            values = [r[metric] for r in mine]
            row[metric] = statistics.fmean(values)
            row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            row[f"{metric}_min"], row[f"{metric}_max"] = min(values), max(values)
        summary.append(row)
    return summary


def differences(spread: Sequence[Mapping[str, Any]], metrics: Sequence[str] = METRICS
                ) -> list[dict[str, Any]]:
    """Every pair of variants and metric: the difference of means (first minus second) and
    whether it exceeds the spread between seeds (the two ranges do not overlap)."""
    pairs = []
    for first, second in itertools.combinations(spread, 2):
        for metric in metrics:
            apart = (first[f"{metric}_min"] > second[f"{metric}_max"]
                     or second[f"{metric}_min"] > first[f"{metric}_max"])
            pairs.append({"first": first["variant"], "second": second["variant"], "metric": metric,
                          "difference": first[metric] - second[metric],
                          "exceeds_seed_spread": apart})
    return pairs


def spread_table(spread: Sequence[Mapping[str, Any]], metrics: Sequence[str] = METRICS):
    """Mean ± standard deviation over the seeds per variant and metric, as text (pandas)."""
    import pandas as pd

    names = {"all_accuracy": "A", "all_recall": "R", "all_map": "mAP",
             "all_recall_at_acc_0.5": "R at A>=0.5"}
    cells = {names.get(m, m): [f"{r[m]:.3f}±{r[f'{m}_std']:.3f}" for r in spread] for m in metrics}
    return pd.DataFrame(cells, index=pd.Index([r["variant"] for r in spread], name="variant"))
