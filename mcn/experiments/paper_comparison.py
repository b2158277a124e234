"""The book's results beside the paper's (Yang, Fan and Guo 2020, section 4).

``PAPER`` holds every figure the paper's text states about its five variants (Table 1,
the ablation; Table 3 and Fig. 9, size and time; the abstract). The tables themselves
are images that the text does not reproduce, so where the text gives no figure the
cell stays empty, and a figure the text gives only as a difference is worked out and
marked as such in ``PAPER_NOTES``.

``paper_comparison(results)`` reads the committed results of the book's experiments
(``experiment_ablation.json``, ``experiment_operating-point.json``,
``experiment_speed.json``) and lays the book's figures for every variant and preset
beside the paper's, one row per (variant, setting). It reads the files when called,
so the table follows them when an experiment is re-run; a missing file leaves its
rows out. Taught in chapter 11 (and summarised in the book's introduction).
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

from mcn.models import VARIANTS

#: Columns of the comparison, in order: accuracy, recall, mAP, best recall at accuracy
#: >= 0.5, parameters, fp32 megabytes, forward time relative to CornerNet-Squeeze.
COLUMNS = ("A", "R", "mAP", "R at A>=0.5", "params", "MB", "time ratio")

PAPER_SETTING = "paper, TT100K"

#: The paper's figures (fractions, MB, time ratio to CornerNet-Squeeze's 32 ms).
PAPER: dict[str, dict[str, float]] = {
    "cornernet-squeeze": {"R": 0.8879, "mAP": 0.8984, "time ratio": 1.0},
    "cornernet-fusion": {"R": 0.8907},
    "cornernet-fire": {"MB": 112.8, "time ratio": 47.2 / 32},
    "cornernet-mask": {},
    "mask-cornernet": {"A": 0.9163, "R": 0.8983, "mAP": 0.9001, "MB": 112.8,
                       "time ratio": 62 / 32},
}

#: Where each of the paper's figures comes from.
PAPER_NOTES: dict[str, str] = {
    "cornernet-squeeze": "R: 88.79 % at 32 ms (Fig. 9 text), also Mask-CornerNet's 89.83 % "
                         "minus its stated gain of 1.04; mAP 89.84 % (Table 1 text)",
    "cornernet-fusion": "R worked out: the baseline's 88.79 % plus the stated gain of 0.28",
    "cornernet-fire": "same size as Mask-CornerNet (Table 3 text); 47.2 ms for recall "
                      "89.45 % (41 ms for 85.82 %)",
    "cornernet-mask": "only a gain of 0.71 in accuracy over an unstated baseline",
    "mask-cornernet": "A 91.63 %, R 89.83 %, mAP 90.01 % (section 4; the abstract gives "
                      "A 91.84 %); 112.8 MB; 62 ms for recall 89.82 % (52 ms for 87.21 %)",
}

#: The book's settings: the tiny models of Table 1 (200 test scenes, minscore 20), the
#: book-scale models at their operating point (1000 test scenes, the threshold chosen
#: on validation scenes), decoded as shipped and with the joined-pair rule
#: (``mcn.joins``), and the paper-size network, counted but never trained.
TINY_SETTING = "tiny preset"
BOOK_SETTING = "book preset"
BOOK_RULE_SETTING = "book preset, joined-pair rule"
SIZE_SETTING = "paper preset, untrained"


def read_results(folder: str | os.PathLike, name: str) -> dict[str, Any] | None:
    """``folder/experiment_NAME.json`` as a dict, or None when the file is missing."""
    path = Path(folder) / f"experiment_{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def pooled(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[float | None, float | None]:
    """(mean, standard deviation) of ``key`` over rows of one variant.

    A row may carry the pooled figures itself (``KEY_mean``, ``KEY_std``, or ``KEY`` and
    ``KEY_std`` as ``seeds.spread_rows`` writes them), or one value per row (one row per
    seed); missing -> None.
    """
    means = [r[f"{key}_mean"] for r in rows if r.get(f"{key}_mean") is not None]
    if means:
        stds = [r[f"{key}_std"] for r in rows if r.get(f"{key}_std") is not None]
        return means[0], (stds[0] if stds else None)
    if len(rows) == 1 and rows[0].get(f"{key}_std") is not None:
        # a row of ``mcn.experiments.seeds.spread_rows``: KEY is the mean over the seeds
        return rows[0][key], rows[0][f"{key}_std"]
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return None, None
    spread = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), spread


def by_variant(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by their ``variant`` field, in the order of ``mcn.models.VARIANTS``."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["variant"], []).append(row)
    return {v: groups[v] for v in sorted(groups, key=lambda v: list(VARIANTS).index(v)
                                         if v in VARIANTS else len(VARIANTS))}


def seed_count(rows: Sequence[Mapping[str, Any]]) -> int:
    """How many training runs the rows of one variant pool: a ``seeds`` list or a
    ``num_seeds`` field when a row has one, else one run per row."""
    for row in rows:
        if isinstance(row.get("seeds"), (list, tuple)):
            return len(row["seeds"])
        if isinstance(row.get("num_seeds"), int):
            return row["num_seeds"]
    return len(rows)


def fp32_mb(params: float | None) -> float | None:
    """Megabytes (10^6 bytes) of ``params`` float32 weights."""
    return None if params is None else 4 * params / 1e6


def tiny_rows(ablation: Mapping[str, Any] | None, speed: Mapping[str, Any] | None,
              side: int = 256) -> dict[str, dict[str, Any]]:
    """The tiny preset's figures: Table 1 at book scale, with the forward time at
    ``side`` pixels (the training size) relative to CornerNet-Squeeze."""
    if ablation is None:
        return {}
    times = {r["variant"]: r["forward_ms"] for r in (speed or {}).get("rows", [])
             if r.get("input_size") == side and r.get("forward_ms")}
    base = times.get("cornernet-squeeze")
    table = {}
    for variant, rows in by_variant(ablation["rows"]).items():
        fields = {"A": "all_accuracy", "R": "all_recall", "mAP": "all_map",
                  "R at A>=0.5": "all_recall_at_acc_0.5", "params": "params"}
        row = {}
        for column, key in fields.items():
            row[column], spread = pooled(rows, key)
            if spread is not None and column in ("mAP", "R at A>=0.5"):
                row[f"{column} sd"] = spread
        row["MB"] = fp32_mb(row["params"])
        if base and variant in times:
            row["time ratio"] = times[variant] / base
        row["seeds"] = seed_count(rows)
        table[variant] = row
    return table


def book_rows(points: Mapping[str, Any] | None, key: str = "rows"
              ) -> dict[str, dict[str, Any]]:
    """The book preset's figures at its operating point (accuracy and recall at the
    threshold chosen on validation scenes; mAP and recall at accuracy 0.5 need none);
    ``key``: "rows" (decoded as shipped) or "joined_pair_rule"."""
    table = {}
    for row in (points or {}).get(key, []):
        test = row.get("test", {}).get("all", {})
        table[row["variant"]] = {"A": test.get("accuracy"), "R": test.get("recall"),
                                 "mAP": test.get("map"),
                                 "R at A>=0.5": test.get("recall_at_accuracy_0.5"),
                                 "params": row.get("params"), "MB": fp32_mb(row.get("params"))}
    return table


def size_only_rows(speed: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The paper preset's size (42 classes, 512 px), the one setting whose size is the
    paper's model's."""
    return {r["variant"]: {"params": r["params"], "MB": r["fp32_mb"]}
            for r in (speed or {}).get("size_rows", []) if r.get("preset") == "paper"}


def paper_comparison(results: str | os.PathLike = "data/results"):
    """The paper's figures and the book's, one row per (variant, setting) (pandas).

    Columns ``COLUMNS`` (fractions for A, R, mAP and R at A>=0.5), plus ``mAP sd`` and
    ``R at A>=0.5 sd`` when the ablation file holds several seeds; NaN where a setting
    has no such figure.
    """
    import pandas as pd

    points = read_results(results, "operating-point")
    settings = {PAPER_SETTING: PAPER,
                TINY_SETTING: tiny_rows(read_results(results, "ablation"),
                                        read_results(results, "speed")),
                BOOK_SETTING: book_rows(points),
                BOOK_RULE_SETTING: book_rows(points, "joined_pair_rule"),
                SIZE_SETTING: size_only_rows(read_results(results, "speed"))}
    records = []
    for variant in VARIANTS:
        for setting, figures in settings.items():
            if variant in figures:
                records.append({"variant": variant, "setting": setting, **figures[variant]})
    table = pd.DataFrame.from_records(records).set_index(["variant", "setting"])
    extra = [c for c in ("mAP sd", "R at A>=0.5 sd") if c in table.columns]
    if "seeds" in table.columns and table["seeds"].max() > 1:
        extra.append("seeds")
    return table.reindex(columns=list(COLUMNS) + extra).astype(float)
