"""The pairing view: which TL/BR pairs the decoder keeps and why it rejects the others,
and what soft-NMS (Bodla et al. 2017) does to the kept ones. The rules are those of
``mcn.corners``, the same the decoder applies (CornerNet, Law and Deng 2018). Taught in
chapter 12.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from mcn.corners import REJECTION_REASONS, pair_scores, top_corners
from mcn.decode import soft_nms
from mcn.figures import new_figure
from mcn.viz.draw import (PAGE_WIDTH, TEXT_SIZE, class_colours, draw_boxes, legend_below,
                          plain)
from mcn.viz.explorer import Explorer, image_slider
from mcn.viz.run import RunCache, class_names


def pair_candidates(outputs: Mapping[str, torch.Tensor], k: int = 100, ae_threshold: float = 0.5,
                    score_threshold: float = 0.3, stride: int = 4, num_dets: int = 100,
                    sigma: float = 0.5) -> dict[str, Any]:
    """Every TL/BR pair of the first image whose score reaches ``score_threshold``, and
    what the decoder (``mcn.decode``) does with it.

    Corners: ``top_corners`` (K of each type); a pair's score and reason (an index into
    ``REJECTION_REASONS``, 0 when the decoder keeps the pair) come from
    ``mcn.corners.pair_scores``, the decoder's own rules. The kept pairs, best first, at
    most ``num_dets`` of them, then go through soft-NMS; ``survives`` says which keep a
    decayed score >= ``score_threshold`` (those are ``decode``'s detections).

    Returns numpy arrays over the candidate pairs, best first: tl, br (corner indices),
    scores, labels (the TL corner's class), reasons, boxes (P, 4) xyxy input pixels,
    survives (bool), final_scores (after soft-NMS, 0 where not kept); and tl, br
    corner dicts under "tl_corners", "br_corners".
    """
    found = {kind: top_corners(outputs[f"{kind}_heat"][:1], outputs[f"{kind}_emb"][:1],
                               outputs[f"{kind}_off"][:1], k, stride) for kind in ("tl", "br")}
    all_scores, all_reasons = pair_scores(found["tl"], found["br"], ae_threshold)
    scores, reasons = all_scores[0], all_reasons[0]                           # (K, K)
    tl, br = ({name: value[0] for name, value in found[kind].items()} for kind in ("tl", "br"))
    tl_i, br_i = torch.nonzero(scores >= score_threshold, as_tuple=True)
    order = scores[tl_i, br_i].argsort(descending=True, stable=True)
    tl_i, br_i = tl_i[order], br_i[order]
    candidate_scores, candidate_reasons = scores[tl_i, br_i], reasons[tl_i, br_i]
    boxes = torch.stack([tl["xs"][tl_i], tl["ys"][tl_i], br["xs"][br_i], br["ys"][br_i]], dim=1)
    labels = tl["labels"][tl_i]

    kept = torch.nonzero(candidate_reasons == 0).flatten()[:num_dets]
    survives = torch.zeros(len(tl_i), dtype=torch.bool)
    final_scores = torch.zeros(len(tl_i))
    if len(kept):
        keep, decayed = soft_nms(boxes[kept], candidate_scores[kept], labels[kept], sigma,
                                 score_threshold)
        survives[kept[keep]] = True
        final_scores[kept[keep]] = decayed
    as_numpy = {name: value.numpy() for name, value in (
        ("tl", tl_i), ("br", br_i), ("scores", candidate_scores), ("labels", labels),
        ("reasons", candidate_reasons), ("boxes", boxes), ("survives", survives),
        ("final_scores", final_scores))}
    as_numpy["tl_corners"] = {name: value.numpy() for name, value in tl.items()}
    as_numpy["br_corners"] = {name: value.numpy() for name, value in br.items()}
    as_numpy["num_dets"] = num_dets
    return as_numpy


def decode_figure(pairs: Mapping[str, Any], image: np.ndarray, class_names: Sequence[str] = (),
                  max_drawn: int = 40, title: str = "", boxes: np.ndarray | None = None) -> Figure:
    """Left: kept pairs as boxes in their class's colour (solid: they survive soft-NMS;
    dotted: soft-NMS pushed them below the threshold). Right: the ``max_drawn`` best
    rejected pairs as TL-BR segments coloured by the reason. ``boxes``: ground truth
    (N, 4), drawn dashed white on both. The legend under the panels gives the count of
    every reason."""
    height, width = image.shape[:2]
    fig = new_figure(PAGE_WIDTH, 4.9, constrained=False)
    left, right = fig.subplots(1, 2, gridspec_kw={"wspace": 0.06})
    for ax in (left, right):
        ax.imshow(image)
        if boxes is not None:
            draw_boxes(ax, boxes)
    reasons = pairs["reasons"]
    kept = np.nonzero(reasons == 0)[0]
    colours = class_colours(max(len(class_names), int(pairs["labels"].max(initial=0)) + 1))
    for i in kept[::-1]:  # best drawn last, on top
        x1, y1, x2, y2 = pairs["boxes"][i]
        colour = colours[pairs["labels"][i]]
        solid = bool(pairs["survives"][i])
        left.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                                 linewidth=2 if solid else 1.2, linestyle="-" if solid else ":"))
        if solid:
            name = class_names[pairs["labels"][i]] if class_names else str(pairs["labels"][i])
            left.text(x1, y1 - 2, f"{name} {pairs['final_scores'][i]:.2f}", color="black",
                      fontsize=TEXT_SIZE - 2,
                      bbox={"facecolor": colour, "alpha": 0.85, "pad": 1, "linewidth": 0})
    plain(left, f"kept {len(kept)}, {int(pairs['survives'].sum())} survive soft-NMS")
    reason_colours = {1: "tab:orange", 2: "tab:purple", 3: "tab:red"}
    rejected = np.nonzero(reasons > 0)[0]
    for i in rejected[:max_drawn][::-1]:
        x1, y1, x2, y2 = pairs["boxes"][i]
        colour = reason_colours[int(reasons[i])]
        right.plot([x1, x2], [y1, y2], "-", color=colour, linewidth=1.2, alpha=0.85)
        right.plot([x1], [y1], "o", color=colour, markersize=5)
        right.plot([x2], [y2], "s", color=colour, markersize=5)
    plain(right, f"rejected {len(rejected)}, the best {min(max_drawn, len(rejected))} drawn")
    for ax in (left, right):
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
    handles = [Line2D([], [], color="white", linewidth=2, label="kept, survives soft-NMS"),
               Line2D([], [], color="white", linewidth=1.2, linestyle=":",
                      label="kept, pushed below by soft-NMS"),
               Line2D([], [], color="white", linestyle="--", linewidth=1, label="ground truth")]
    handles += [Line2D([], [], color=colour, marker="o",
                       label=f"{REJECTION_REASONS[r]}: {int((reasons == r).sum())}")
                for r, colour in reason_colours.items()]
    handles.append(Line2D([], [], color="white", marker="o", markersize=5, linestyle="none",
                          label="o TL corner, s BR corner"))
    legend_below(fig, handles, columns=2)
    if title:
        fig.suptitle(title, fontsize=TEXT_SIZE + 1)
    return fig


def decode_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                    input_size: int | None = None, k: int = 100, ae_threshold: float = 0.5,
                    score_threshold: float = 0.3) -> Explorer:
    """The decoder on the model's eval-mode output (the last entry of ``forward_stacks``):
    controls for the image, K, the embedding threshold and the score threshold."""
    names = class_names(model, dataset)
    runs = RunCache(model, dataset, input_size)
    controls = {
        "index": image_slider(dataset, index),
        "k": widgets.IntSlider(value=k, min=1, max=200, description="K", continuous_update=False),
        "ae_threshold": widgets.FloatSlider(value=ae_threshold, min=0.0, max=2.0, step=0.05,
                                            description="ae_threshold", continuous_update=False),
        "score_threshold": widgets.FloatSlider(value=score_threshold, min=0.0, max=1.0, step=0.001,
                                               readout_format=".3f", description="min score",
                                               continuous_update=False),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        run = runs(state["index"])
        pairs = pair_candidates(run.stacks[-1], state["k"], state["ae_threshold"],
                                state["score_threshold"], model.stride)
        return decode_figure(pairs, run.image, names, boxes=run.target["boxes"].numpy(),
                             title=f"image {state['index']}: {len(pairs['scores'])} pairs of "
                                   f"{state['k']} x {state['k']} score >= "
                                   f"{state['score_threshold']:.3f}")

    return Explorer(controls, draw, rows=[["index", "k"], ["ae_threshold", "score_threshold"]])
