"""The outcome view: a detector's boxes on held-out scenes as the TT100K protocol (Zhu
et al. 2016) counts them, true positives, false positives and missed signs in three
colours, at a score threshold you choose. The matching is the protocol's own
(``mcn.evaluate.protocol``), so the boxes drawn add up to the counts of
``tt100k_eval``. Taught in chapter 10 and gathered in chapter 12.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from mcn.data.tt100k_format import read_images
from mcn.evaluate.protocol import build_problem, greedy_match, resolve_types, scored_images
from mcn.figures import new_figure
from mcn.viz.draw import PAGE_WIDTH, TEXT_SIZE, legend_below, plain
from mcn.viz.explorer import Explorer

#: Colour and line style of each outcome.
OUTCOMES = {"true positive": ("#22dd22", "-"), "false positive": ("#ff22ff", "-"),
            "missed": ("#22ddff", "--")}


def detection_outcomes(gt: Mapping[str, Any], results: Mapping[str, Any], image_id: Any,
                       types: str | Sequence[str] | None = None, minscore: float = 40.0,
                       iou: float = 0.5) -> dict[str, Any]:
    """The outcome of every box of one image under the TT100K protocol.

    ``gt`` and ``results`` are TT100K JSON dicts (scores 0-100). Returns, as numpy
    arrays: det_boxes (D, 4), det_categories, det_scores and det_outcome ("true
    positive" or "false positive"; detections below ``minscore`` or outside ``types``
    are left out); gt_boxes (G, 4), gt_categories and gt_found (bool; ground truths
    outside ``types`` are left out); and the counts "correct", "num_det", "num_gt".
    """
    key = str(image_id)
    truth_images = read_images(gt, "ground truth")
    if key not in truth_images:
        raise ValueError(f"image {key!r} is not in the ground truth")
    one_gt = {"imgs": {key: truth_images[key]}}
    result_images = read_images(results, "results")
    one_result = {"imgs": {key: result_images.get(key, {"objects": []})}}
    parsed = scored_images(one_gt, one_result)
    problem = build_problem(parsed, resolve_types(types), iou)
    gt_match, det_match = greedy_match(problem, minscore)
    detections, truths = parsed.det[0], parsed.gt[0]
    kept = (problem.det_class >= 0) & ~(problem.det_score < minscore)
    scored = problem.gt_class >= 0
    outcome = np.where(det_match >= 0, "true positive", "false positive")
    return {"det_boxes": detections.boxes[kept],
            "det_categories": np.array(detections.categories, dtype=object)[kept],
            "det_scores": detections.scores[kept], "det_outcome": outcome[kept],
            "gt_boxes": truths.boxes[scored],
            "gt_categories": np.array(truths.categories, dtype=object)[scored],
            "gt_found": (gt_match >= 0)[scored],
            "correct": int((gt_match >= 0)[scored].sum()), "num_det": int(kept.sum()),
            "num_gt": int(scored.sum())}


def draw_outcomes(ax, image: np.ndarray, outcomes: Mapping[str, Any], labels: bool = True) -> None:
    """The image with missed ground truths dashed and detections solid, one colour per
    outcome; each detection labelled with its class and score."""
    ax.imshow(image)
    for box, found, name in zip(outcomes["gt_boxes"], outcomes["gt_found"],
                                outcomes["gt_categories"]):
        if not found:
            colour, style = OUTCOMES["missed"]
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                   edgecolor=colour, linestyle=style, linewidth=2))
            if labels:
                ax.text(box[0], box[3] + 1, name, color="black", fontsize=TEXT_SIZE - 3,
                        va="top", bbox={"facecolor": colour, "pad": 1, "linewidth": 0})
    for box, name, score, outcome in zip(outcomes["det_boxes"], outcomes["det_categories"],
                                         outcomes["det_scores"], outcomes["det_outcome"]):
        colour, style = OUTCOMES[outcome]
        ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                               edgecolor=colour, linestyle=style, linewidth=2))
        if labels:
            ax.text(box[0], box[1] - 1, f"{name} {score:.0f}", color="black",
                    fontsize=TEXT_SIZE - 3,
                    bbox={"facecolor": colour, "pad": 1, "linewidth": 0, "alpha": 0.85})
    height, width = image.shape[:2]
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)


def outcomes_figure(images: Sequence[np.ndarray], outcomes: Sequence[Mapping[str, Any]],
                    names: Sequence[str], title: str = "") -> Figure:
    """Scenes side by side, two per row, each with its outcomes (``draw_outcomes``) and
    its counts; the legend gives the totals over the scenes shown."""
    rows = (len(images) + 1) // 2
    fig = new_figure(PAGE_WIDTH, 4.4 * rows, constrained=False)
    axes = np.atleast_1d(fig.subplots(rows, 2, squeeze=False,
                                      gridspec_kw={"wspace": 0.05, "hspace": 0.12})).ravel()
    for ax, image, found, name in zip(axes, images, outcomes, names):
        draw_outcomes(ax, image, found)
        plain(ax, f"{name}: {found['correct']} of {found['num_gt']} found, "
                  f"{found['num_det'] - found['correct']} false")
    for ax in axes[len(images):]:
        ax.set_visible(False)
    totals = {"true positive": sum(int((o["det_outcome"] == "true positive").sum()) for o in outcomes),
              "false positive": sum(int((o["det_outcome"] == "false positive").sum()) for o in outcomes),
              "missed": sum(int((~o["gt_found"]).sum()) for o in outcomes)}
    legend_below(fig, [Line2D([], [], color=colour, linestyle=style, linewidth=2.5,
                              label=f"{outcome}: {totals[outcome]}")
                       for outcome, (colour, style) in OUTCOMES.items()], columns=3)
    if title:
        fig.suptitle(title, fontsize=TEXT_SIZE + 1)
    return fig


def outcomes_explorer(dataset: Any, gt: Mapping[str, Any], results: Mapping[str, Any],
                      types: str | Sequence[str] | None = None, first: int = 0,
                      minscore: float = 40.0, per_page: int = 4) -> Explorer:
    """Detections on ``per_page`` scenes of ``dataset`` (items (uint8 image, target with
    "image_id"), the images ``gt`` and ``results`` describe, in the same pixels):
    controls for the first scene shown and the score threshold (0-100)."""
    def item(i: int) -> tuple[np.ndarray, Any]:
        image, target = dataset[i]
        return image.permute(1, 2, 0).numpy(), target["image_id"]

    controls = {
        "first": widgets.IntSlider(value=first, min=0, max=max(len(dataset) - per_page, 0),
                                   description="first scene", continuous_update=False),
        "minscore": widgets.FloatSlider(value=minscore, min=0.0, max=100.0, step=0.5,
                                        readout_format=".1f", description="minscore",
                                        continuous_update=False),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        shown = range(state["first"], min(state["first"] + per_page, len(dataset)))
        items = [item(i) for i in shown]
        found = [detection_outcomes(gt, results, image_id, types, state["minscore"])
                 for _, image_id in items]
        return outcomes_figure([picture for picture, _ in items], found,
                               [f"scene {i}" for i in shown],
                               f"minscore {state['minscore']:.1f}: what the TT100K protocol counts")

    return Explorer(controls, draw, rows=[["first", "minscore"]])
