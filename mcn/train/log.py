"""The training log: one JSON line per iteration, read back and drawn as loss curves.

Every iteration of ``mcn.train.train`` writes iter, lr, the five terms of the
Mask-CornerNet loss (Yang, Fan and Guo 2020; ``mcn.losses``) and seconds to
``OUT/log.jsonl``; ``plot_losses`` draws them, raw and smoothed. Taught in chapter 9.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from mcn.figures import new_figure
from mcn.losses import LOSS_TERMS


def read_log(log_path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSONL training log (one dict per iteration)."""
    path = Path(log_path)
    if not path.is_file():
        raise FileNotFoundError(f"training log {path} not found")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_log(path: Path, last_iter: int) -> None:
    """Drop log lines written after iteration ``last_iter`` (a resumed run writes them again)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("iter", 0) <= last_iter]
    path.write_text("".join(line + "\n" for line in kept))


def _smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average (debiased), the usual way to read noisy loss curves."""
    out, avg = np.empty_like(values), 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def plot_losses(log_path: str | os.PathLike, smoothing: float = 0.9):
    """Loss curves of a run from its ``log.jsonl``: one panel per term, plus the lr.

    Raw values are drawn faint, their exponential moving average (``smoothing``) solid;
    det, off and total use a log scale. Returns a matplotlib Figure (not shown).
    """
    records = read_log(log_path)
    if not records:
        raise ValueError(f"training log {log_path} is empty")
    iters = np.array([r["iter"] for r in records])
    fig = new_figure(11, 6)
    axes = fig.subplots(2, 4).ravel()
    for ax, name in zip(axes, LOSS_TERMS + ("lr",)):
        values = np.array([r.get(name, np.nan) for r in records], dtype=float)
        ax.plot(iters, values, color="C0", alpha=0.3, linewidth=0.8)
        if name != "lr":
            ax.plot(iters, _smooth(values, smoothing), color="C0", linewidth=1.5)
        if name in ("det", "total", "off", "lr") and np.all(values[np.isfinite(values)] > 0):
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[-1].axis("off")
    fig.suptitle(f"training losses ({Path(log_path).parent.name})")
    return fig
