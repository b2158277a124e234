"""Accuracy-recall curves of the TT100K protocol and their area, the paper's mAP.

The threshold sweeps 100 values from 0 to the highest score, as in the official TT100K
plotting code (Zhu et al., CVPR 2016); the plotted curve adds the end points (precision
0, recall 1) and (1, 0) and keeps precision's running maximum. Yang, Fan and Guo
(Mask-CornerNet, 2020) report "mAP, the area enclosed by the precision-recall curve and
the x-axis" and show the curves per size in their Fig. 7. Taught in chapter 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from mcn.data.tt100k_format import Annotations
from mcn.evaluate.protocol import (Problem, ScoredImages, build_problem, check_bins,
                                   check_iou, check_num_thresholds, count_in_bin, greedy_match,
                                   resolve_types, scored_images, size_bins)
from mcn.figures import new_figure


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


def max_score(parsed: ScoredImages) -> float:
    """The highest score of any detection in the result file (0 when none is scored)."""
    scores = [s for det in parsed.det for s in det.scores.tolist() if math.isfinite(s)]
    return max(scores, default=0.0)


def sweep(
    problem: Problem,
    max_score: float,
    bins: Mapping[str, tuple[float, float]],
    num_thresholds: int,
) -> dict[str, PRCurve]:
    """One PRCurve per size bin: the protocol counted at ``num_thresholds`` thresholds
    from 0 to ``max_score`` (one matching per threshold serves every bin)."""
    thresholds = np.linspace(0.0, max_score, num_thresholds)
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in bins}
    for minscore in thresholds.tolist():
        # Matching ignores sizes, so one matching serves every bin.
        matches = greedy_match(problem, minscore)
        for name, size_range in bins.items():
            measured[name].append(count_in_bin(problem, matches, minscore, size_range))
    return {
        name: PRCurve(
            thresholds=thresholds.copy(),
            accuracy=np.array([m["accuracy"] for m in rows]),
            recall=np.array([m["recall"] for m in rows]),
        )
        for name, rows in measured.items()
    }


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
    iou, num_thresholds = check_iou(iou), check_num_thresholds(num_thresholds)
    bins = check_bins(size_bins() if bins is None else bins)
    parsed = scored_images(gt, results)
    problem = build_problem(parsed, resolve_types(types), iou)
    return sweep(problem, max_score(parsed), bins, num_thresholds)


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
    fig = new_figure(4.5, 4.2)
    _draw_curves(fig.subplots(), curves, title)
    return fig


def plot_pr_panels(panels: Mapping[str, Mapping[str, PRCurve]], columns: int | None = None):
    """One panel per size bin, each comparing methods, like the paper's Fig. 7.

    ``panels`` maps a panel title (e.g. "small") to label -> PRCurve; ``columns``
    panels per row (default: all in one row; 2 suits a book's column). Returns a Figure.
    """
    if not panels:
        raise ValueError("panels is empty: give at least one title -> {label: PRCurve}")
    columns = len(panels) if columns is None else max(1, min(int(columns), len(panels)))
    rows = -(-len(panels) // columns)
    fig = new_figure(4.0 * columns, 4.2 * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (title, curves) in zip(axes, panels.items()):
        _draw_curves(ax, curves, title)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig
