"""The heatmap view: corner heatmaps per image, corner type, class and stack, with the
corners the decoder would keep (CornerNet, Law and Deng 2018). Taught in chapter 12.
"""

from __future__ import annotations

from typing import Any, Mapping

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mcn.corners import top_corners
from mcn.figures import new_figure
from mcn.viz.draw import PAGE_WIDTH, TEXT_SIZE, colorbar, draw_boxes, legend_below, plain
from mcn.viz.explorer import ALL_CLASSES, Explorer, class_dropdown, image_slider
from mcn.viz.run import ModelRun, RunCache, class_names, stack_names

#: Corner types: the prefix of the output keys ("tl_heat", ...) and what to call them.
CORNERS = {"tl": "top-left", "br": "bottom-right"}


def heatmap_data(run: ModelRun, stack: int, corner: str, class_index: int,
                 threshold: float, k: int = 100, stride: int = 4) -> dict[str, Any]:
    """What the heatmap view draws for one state.

    Returns heat (h, w): the sigmoid of the chosen class channel of ``{corner}_heat``
    (with ``ALL_CLASSES``, the maximum over classes); corners: the decoder's top-K local
    peaks over all classes (``mcn.corners.top_corners``) of that class with a score of at
    least ``threshold``, as numpy arrays xs, ys (input pixels, offsets applied), scores,
    labels; image and boxes (ground truth, input pixels) for the background.
    """
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {tuple(CORNERS)}, got {corner!r}")
    if not 0 <= stack < len(run.stacks):
        raise ValueError(f"stack {stack} outside the model's {len(run.stacks)} outputs")
    out = run.stacks[stack]
    logits = out[f"{corner}_heat"][0]                              # (C, h, w)
    if class_index == ALL_CLASSES:
        heat = torch.sigmoid(logits).amax(dim=0)
    elif 0 <= class_index < logits.shape[0]:
        heat = torch.sigmoid(logits[class_index])
    else:
        raise ValueError(f"class_index {class_index} outside 0..{logits.shape[0] - 1}")
    found = top_corners(out[f"{corner}_heat"], out[f"{corner}_emb"], out[f"{corner}_off"],
                        k, stride)
    found = {name: value[0].numpy() for name, value in found.items()}
    keep = found["scores"] >= threshold
    if class_index != ALL_CLASSES:
        keep &= found["labels"] == class_index
    corners = {name: found[name][keep] for name in ("xs", "ys", "scores", "labels")}
    return {"image": run.image, "boxes": run.target["boxes"].numpy(), "heat": heat.numpy(),
            "corners": corners, "corner": corner, "threshold": threshold}


def heatmap_figure(data: Mapping[str, Any], title: str = "") -> Figure:
    """Left: the heatmap over the image with the detected corners; right: the heatmap on
    its own colour scale. A legend under the panels says what the marks mean."""
    image, heat = data["image"], data["heat"]
    height, width = image.shape[:2]
    fig = new_figure(PAGE_WIDTH, 4.4, constrained=False)
    left, right = fig.subplots(1, 2)
    left.imshow(image)
    # Colour relative to the maximum (as on the right); opacity grows with the probability
    # itself, full from 0.5 on and its square root below, so that the one-cell peaks of a
    # trained model show, and an untrained model's flat 0.1 shows as a flat veil.
    peak = max(float(heat.max()), 1e-6)
    tint = colormaps["magma"](heat / peak)
    tint[..., 3] = 0.9 * np.sqrt(np.clip(heat / 0.5, 0.0, 1.0))
    left.imshow(tint, extent=(0, width, height, 0), interpolation="nearest")
    draw_boxes(left, data["boxes"])
    corners = data["corners"]
    name = CORNERS[data["corner"]]
    marker = "+" if data["corner"] == "tl" else "x"
    left.plot(corners["xs"], corners["ys"], marker, color="cyan", markersize=10,
              markeredgewidth=2, linestyle="none")
    left.set_xlim(0, width)
    left.set_ylim(height, 0)
    plain(left, f"{len(corners['xs'])} corners with score >= {data['threshold']:.3f}")
    shown = right.imshow(heat, cmap="magma", vmin=0, vmax=peak, interpolation="nearest")
    colorbar(fig, shown, right, f"P({name} corner)")
    plain(right, f"the heatmap alone ({heat.shape[1]} x {heat.shape[0]} cells)")
    legend_below(fig, [
        Line2D([], [], color="cyan", marker=marker, markersize=9, markeredgewidth=2,
               linestyle="none", label=f"{name} corners the decoder picks"),
        Line2D([], [], color="white", linestyle="--", label="ground-truth boxes"),
        Patch(color=colormaps["magma"](0.8), label="heatmap (opaque where probable)"),
    ], columns=2)
    if title:
        fig.suptitle(title, fontsize=TEXT_SIZE + 1)
    return fig


def heatmap_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                     input_size: int | None = None, threshold: float = 0.3,
                     class_index: int = ALL_CLASSES, k: int = 100) -> Explorer:
    """Heatmaps of image ``index``: controls for the image, corner type, class, stack and
    score threshold. ``model``: any variant of ``mcn.models.build_model``; ``dataset``:
    items (uint8 image, target), e.g. ``mcn.data.SyntheticSigns``."""
    names = class_names(model, dataset)
    runs = RunCache(model, dataset, input_size)
    stacks = stack_names(model)
    controls = {
        "index": image_slider(dataset, index),
        "corner": widgets.ToggleButtons(options=[("TL", "tl"), ("BR", "br")], value="tl",
                                        description="corner"),
        "class_index": class_dropdown(names, class_index),
        "stack": widgets.Dropdown(options=[(n, s) for s, n in enumerate(stacks)],
                                  value=len(stacks) - 1, description="stack"),
        "threshold": widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.001,
                                         readout_format=".3f", description="threshold",
                                         continuous_update=False),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        data = heatmap_data(runs(state["index"]), state["stack"], state["corner"],
                            state["class_index"], state["threshold"], k, model.stride)
        chosen = state["class_index"]
        which = "all classes" if chosen == ALL_CLASSES else names[chosen]
        return heatmap_figure(data, f"image {state['index']}, {stacks[state['stack']]}, "
                                    f"{CORNERS[state['corner']]} heatmap of {which}")

    return Explorer(controls, draw,
                    rows=[["index", "stack"], ["corner", "class_index"], ["threshold"]])
