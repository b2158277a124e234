"""The accuracy-recall view by size: a detector's TT100K curves for small, medium and
large signs and for all of them (the paper's Fig. 7, Yang, Fan and Guo 2020; protocol of
Zhu et al. 2016), with the operating point of a score threshold you choose marked on
each curve and its accuracy and recall per size beside them. Taught in chapter 10 and
gathered in chapter 12.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mcn.evaluate import pr_curves, size_bins, tt100k_eval
from mcn.evaluate.curves import PRCurve
from mcn.figures import new_figure
from mcn.viz.draw import PAGE_WIDTH, TEXT_SIZE, legend_below
from mcn.viz.explorer import Explorer

#: The colour of each size bin, the same in both panels.
BIN_COLOURS = {"small": "tab:red", "medium": "tab:blue", "large": "tab:green", "all": "black"}


def size_curve_data(gt: Mapping[str, Any], results: Mapping[str, Any], minscore: float,
                    bins: Mapping[str, tuple[float, float]] | None = None,
                    types: str | Sequence[str] | None = None, iou: float = 0.5,
                    curves: Mapping[str, PRCurve] | None = None) -> dict[str, Any]:
    """Curves per size bin (``pr_curves``; pass ``curves`` to reuse them) and, at
    ``minscore``, ``tt100k_eval``'s figures per bin: {"curves": {bin: PRCurve},
    "points": {bin: {accuracy, recall, correct, num_gt, num_det}}, "minscore", "iou"}."""
    bins = dict(size_bins() if bins is None else bins)
    if curves is None:
        curves = pr_curves(gt, results, bins, iou=iou, types=types)
    points = {}
    for name, size_range in bins.items():
        scored = tt100k_eval(gt, results, iou=iou, types=types, minscore=minscore,
                             size_range=size_range)
        points[name] = {key: scored[key] for key in ("accuracy", "recall", "correct", "num_gt",
                                                     "num_det")}
    return {"curves": dict(curves), "points": points, "minscore": minscore, "iou": iou}


def size_curve_figure(data: Mapping[str, Any], title: str = "") -> Figure:
    """Left: the curves of every bin (accuracy across, recall up, as the TT100K plots
    have them), each with its mAP and a dot at the chosen threshold. Right: accuracy
    (hatched) and recall (plain) per bin at that threshold, with the signs counted."""
    fig = new_figure(PAGE_WIDTH, 4.6, constrained=False)
    curves_ax, bars_ax = fig.subplots(1, 2, gridspec_kw={"wspace": 0.3, "width_ratios": [1.1, 1]})
    names = list(data["points"])
    for name in names:
        colour = BIN_COLOURS.get(name, "tab:gray")
        precision, recall = data["curves"][name].points()
        curves_ax.plot(precision, recall, color=colour, linewidth=2 if name == "all" else 1.5,
                       label=f"{name}: mAP {data['curves'][name].area():.2f}")
        point = data["points"][name]
        curves_ax.plot(point["accuracy"], point["recall"], "o", color=colour, markersize=8,
                       markeredgecolor="white")
    curves_ax.set(xlim=(0, 1.02), ylim=(0, 1.02))
    curves_ax.set_xlabel("accuracy (precision)", fontsize=TEXT_SIZE)
    curves_ax.set_ylabel("recall", fontsize=TEXT_SIZE)
    curves_ax.tick_params(labelsize=TEXT_SIZE - 1)
    curves_ax.grid(linestyle=":")
    curves_ax.legend(fontsize=TEXT_SIZE - 1, loc="lower left")
    curves_ax.set_title("curves over every threshold", fontsize=TEXT_SIZE)
    positions = np.arange(len(names))
    for offset, key, hatch in ((-0.2, "accuracy", "//"), (0.2, "recall", "")):
        values = [data["points"][n][key] for n in names]
        bars_ax.bar(positions + offset, values, width=0.38, hatch=hatch, edgecolor="white",
                    color=[BIN_COLOURS.get(n, "tab:gray") for n in names])
        for x, value in zip(positions + offset, values):
            bars_ax.text(x, value + 0.02, f"{value:.2f}", ha="center", fontsize=TEXT_SIZE - 2)
    bars_ax.set_xticks(positions, [f"{n}\n{data['points'][n]['num_gt']} signs" for n in names],
                       fontsize=TEXT_SIZE - 1)
    bars_ax.set_ylim(0, 1.12)
    bars_ax.tick_params(axis="y", labelsize=TEXT_SIZE - 1)
    bars_ax.grid(axis="y", linestyle=":")
    bars_ax.set_title(f"at minscore {data['minscore']:.1f}", fontsize=TEXT_SIZE)
    legend_below(fig, [
        Line2D([], [], color="white", marker="o", markersize=8, linestyle="none",
               label=f"the operating point at minscore {data['minscore']:.1f}"),
        Line2D([], [], color="white", linewidth=6, label="bars: accuracy (hatched), recall"),
    ], columns=2)
    if title:
        fig.suptitle(title, fontsize=TEXT_SIZE + 1)
    return fig


def size_curve_explorer(gt: Mapping[str, Any], results: Mapping[str, Any],
                        bins: Mapping[str, tuple[float, float]] | None = None,
                        types: str | Sequence[str] | None = None,
                        minscore: float = 40.0) -> Explorer:
    """Accuracy-recall curves per size with the operating point of a score threshold:
    controls for the threshold (0-100) and the IoU a match needs."""
    cached: dict[float, dict[str, PRCurve]] = {}

    def curves(iou: float) -> dict[str, PRCurve]:
        if iou not in cached:
            cached[iou] = pr_curves(gt, results, bins, iou=iou, types=types)
        return cached[iou]

    controls = {
        "minscore": widgets.FloatSlider(value=minscore, min=0.0, max=100.0, step=0.5,
                                        readout_format=".1f", description="minscore",
                                        continuous_update=False),
        "iou": widgets.Dropdown(options=[0.5, 0.6, 0.7], value=0.5, description="IoU >"),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        data = size_curve_data(gt, results, state["minscore"], bins, types, state["iou"],
                               curves(state["iou"]))
        return size_curve_figure(data, f"accuracy and recall by size, a match needs "
                                       f"IoU > {state['iou']:.1f}")

    return Explorer(controls, draw, rows=[["minscore", "iou"]])
