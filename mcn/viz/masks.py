"""The mask view: the segmentation that Mask-CornerNet's mask module predicts (Yang, Fan
and Guo 2020, Section 3.3), class by class over the image, next to the exact
ground-truth mask it learns from, and where the two disagree. Taught in chapter 6 and
gathered in chapter 12.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mcn.figures import new_figure
from mcn.targets import build_targets
from mcn.viz.draw import PAGE_WIDTH, TEXT_SIZE, class_colours, draw_boxes, legend_below, plain
from mcn.viz.explorer import ALL_CLASSES, Explorer, class_dropdown, image_slider
from mcn.viz.run import ModelRun, RunCache, class_names

#: What each value of ``mask_data``'s "agreement" map means, and its colour.
AGREEMENT = {0: ("background in both", (0.0, 0.0, 0.0, 0.0)),
             1: ("sign, right class", (0.10, 0.85, 0.10, 0.85)),
             2: ("sign, wrong class", (1.00, 0.60, 0.00, 0.85)),
             3: ("predicted sign on background", (0.95, 0.10, 0.95, 0.85)),
             4: ("sign missed", (0.10, 0.85, 0.95, 0.85))}


def mask_truth(model: torch.nn.Module, run: ModelRun) -> torch.Tensor:
    """The ground-truth class map (H/2, W/2) int64 of the run's image, 0 = background and
    label + 1 on a sign: the mask target of ``mcn.targets.build_targets``."""
    height, width = run.image.shape[:2]
    target = {key: run.target[key] for key in ("boxes", "labels", "masks") if key in run.target}
    built = build_targets([target], model.num_classes, (height, width), model.stride,
                          model.mask_stride)
    return built["mask"][0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean maps (1 when both are empty)."""
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def mask_data(model: torch.nn.Module, run: ModelRun, stack: int, class_index: int
              ) -> dict[str, Any]:
    """What the mask view draws for one state.

    Returns predicted and truth (H/2, W/2) class maps (0 background, label + 1 a sign);
    probability (H/2, W/2): P(class ``class_index``) or, with ``ALL_CLASSES``, P(any
    sign) = 1 - P(background); agreement (H/2, W/2): keys of ``AGREEMENT``; sign_iou:
    IoU of the predicted and true sign pixels (any class); class_iou: IoU of the chosen
    class's pixels (None with ``ALL_CLASSES``); image and boxes (input pixels).
    """
    if not model.has_mask:
        raise ValueError(f"{model.variant} has no mask module; use cornernet-mask or mask-cornernet")
    if not 0 <= stack < len(run.stacks):
        raise ValueError(f"stack {stack} outside the model's {len(run.stacks)} outputs")
    logits = run.stacks[stack]["mask"][0]                                   # (C+1, h, w)
    num_classes = logits.shape[0] - 1
    if class_index != ALL_CLASSES and not 0 <= class_index < num_classes:
        raise ValueError(f"class_index {class_index} outside 0..{num_classes - 1}")
    probabilities = torch.softmax(logits.float(), dim=0)
    predicted = logits.argmax(dim=0).numpy()
    truth = mask_truth(model, run).numpy()
    if class_index == ALL_CLASSES:
        probability, class_iou = 1.0 - probabilities[0].numpy(), None
    else:
        probability = probabilities[class_index + 1].numpy()
        class_iou = iou(predicted == class_index + 1, truth == class_index + 1)
    agreement = np.zeros(truth.shape, dtype=np.int64)
    both = (predicted > 0) & (truth > 0)
    agreement[both & (predicted == truth)] = 1
    agreement[both & (predicted != truth)] = 2
    agreement[(predicted > 0) & (truth == 0)] = 3
    agreement[(predicted == 0) & (truth > 0)] = 4
    return {"predicted": predicted, "truth": truth, "probability": probability,
            "agreement": agreement, "sign_iou": iou(predicted > 0, truth > 0),
            "class_iou": class_iou, "class_index": class_index, "num_classes": num_classes,
            "image": run.image, "boxes": run.target["boxes"].numpy()}


def class_overlay(classes: np.ndarray, colours: np.ndarray, alpha: float = 0.75) -> np.ndarray:
    """(h, w, 4) RGBA of a class map (0 background: clear; c > 0: colour c - 1)."""
    rgba = np.zeros((*classes.shape, 4))
    signs = classes > 0
    rgba[signs, :3] = colours[classes[signs] - 1]
    rgba[signs, 3] = alpha
    return rgba


def mask_figure(data: Mapping[str, Any], class_names: Sequence[str] = (), title: str = "") -> Figure:
    """Predicted classes and ground-truth classes over the image; the probability of the
    chosen class (or of any sign); where prediction and truth agree. Legend: the classes
    present and the agreement colours."""
    image = data["image"]
    height, width = image.shape[:2]
    extent = (0, width, height, 0)
    names = list(class_names) or [f"class {c}" for c in range(data["num_classes"])]
    colours = class_colours(data["num_classes"])
    fig = new_figure(PAGE_WIDTH, 8.4, constrained=False)
    axes = fig.subplots(2, 2, gridspec_kw={"wspace": 0.25, "hspace": 0.18})
    for ax, key, name in ((axes[0, 0], "predicted", "predicted mask (argmax)"),
                          (axes[0, 1], "truth", "ground-truth mask (the target)")):
        ax.imshow(image)
        ax.imshow(class_overlay(data[key], colours), extent=extent, interpolation="nearest")
        plain(ax, f"{name}: {(data[key] > 0).mean():.1%} sign")
    chosen = data["class_index"]
    which = "any sign" if chosen == ALL_CLASSES else names[chosen]
    axes[1, 0].imshow(image)
    shown = axes[1, 0].imshow(data["probability"], cmap="magma", vmin=0, vmax=1, alpha=0.8,
                              extent=extent, interpolation="nearest")
    # An inset bar, so that the four panels keep one size.
    bar = fig.colorbar(shown, cax=axes[1, 0].inset_axes([1.03, 0.0, 0.05, 1.0]), format="%.1f")
    bar.ax.tick_params(labelsize=TEXT_SIZE - 2)
    plain(axes[1, 0], f"P({which}), max {data['probability'].max():.2f}")
    axes[1, 1].imshow(image // 3)                      # dimmed, so the colours stand out
    rgba = np.array([AGREEMENT[k][1] for k in sorted(AGREEMENT)])[data["agreement"]]
    axes[1, 1].imshow(rgba, extent=extent, interpolation="nearest")
    score = f"sign IoU {data['sign_iou']:.2f}"
    if data["class_iou"] is not None:
        score += f", {which} IoU {data['class_iou']:.2f}"
    plain(axes[1, 1], f"agreement: {score}")
    for ax in axes.flat:
        draw_boxes(ax, data["boxes"])
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
    present = sorted(({int(c) for c in np.unique(data["predicted"])} |
                      {int(c) for c in np.unique(data["truth"])}) - {0})
    handles = [Patch(color=colours[c - 1], label=names[c - 1]) for c in present]
    handles += [Patch(color=AGREEMENT[k][1][:3], label=AGREEMENT[k][0]) for k in (1, 2, 3, 4)]
    handles.append(Line2D([], [], color="white", linestyle="--", label="ground-truth boxes"))
    legend_below(fig, handles, columns=4)
    if title:
        fig.suptitle(title, fontsize=TEXT_SIZE + 1)
    return fig


def mask_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                  input_size: int | None = None, class_index: int = ALL_CLASSES) -> Explorer:
    """The mask module's segmentation next to the ground truth: controls for the image,
    the stack and the class (or any sign)."""
    if not model.has_mask:
        raise ValueError(f"mask_explorer needs a variant with the mask module (cornernet-mask "
                         f"or mask-cornernet); {model.variant} has none")
    names = class_names(model, dataset)
    runs = RunCache(model, dataset, input_size)
    stacks = [f"stack {s + 1}" for s in range(len(model.mask_modules))]
    controls = {
        "index": image_slider(dataset, index),
        "stack": widgets.Dropdown(options=[(n, s) for s, n in enumerate(stacks)],
                                  value=len(stacks) - 1, description="stack"),
        "class_index": class_dropdown(names, class_index, first="any sign"),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        data = mask_data(model, runs(state["index"]), state["stack"], state["class_index"])
        return mask_figure(data, names, f"image {state['index']}, {stacks[state['stack']]}: "
                                        "the mask module's segmentation")

    return Explorer(controls, draw, rows=[["index", "stack"], ["class_index"]])
