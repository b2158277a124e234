"""The EM attention view: the mask module's EM unit iteration by iteration, its
responsibilities, the features it rebuilds and the mask per class (EMANet, Li et al.
2019, inside Mask-CornerNet, Yang, Fan and Guo 2020). Taught in chapter 12; the EM
steps themselves in chapter 6.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mcn.figures import new_figure
from mcn.nn.em_attention import EMAU, em_iterations
from mcn.viz.draw import (PAGE_WIDTH, TEXT_SIZE, base_colours, class_colours, colorbar,
                          draw_boxes, legend_below, plain)
from mcn.viz.explorer import ALL_CLASSES, Explorer, image_slider
from mcn.viz.run import ModelRun, RunCache, class_names


@torch.no_grad()
def em_steps(emau: EMAU, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """EM attention of ``emau`` on its input x (1, C_in, h, w), iteration by iteration.

    For t = 0..T (T = ``emau.iters``): mu[t] (C, K) are the bases after t M steps
    (mu[0] = the layer's stored bases), z[t] (N, K) their responsibilities, the E step
    that follows them (``em_iterations(X, mu[0], t + 1)``'s z, as in chapter 6), and
    rebuilt[t] = mu[t] z[t]^T (C, N) the features rebuilt from them. The layer itself
    ends with mu[T] and z[T - 1]. features (C, N) is X = ``emau.em_features(x)``, what EM
    clusters.
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"em_steps: x must be one image (1, C, h, w), got {tuple(x.shape)}")
    features = emau.em_features(x.to(emau.mu.device))                    # (1, C, N)
    mu_start = emau.mu.float()
    zs, mus = [], [mu_start[0]]
    for t in range(emau.iters + 1):
        # t + 1 iterations: the E step of mu[t], then the M step that gives mu[t + 1].
        z, mu_next = em_iterations(features, mu_start, t + 1, emau.lambd)
        zs.append(z[0])
        if t < emau.iters:
            mus.append(mu_next[0])
    mu = torch.stack(mus)                                                 # (T+1, C, K)
    z = torch.stack(zs)                                                   # (T+1, N, K)
    rebuilt = torch.bmm(mu, z.transpose(1, 2))                            # (T+1, C, N)
    return {"features": features[0].cpu(), "z": z.cpu(), "mu": mu.cpu(), "rebuilt": rebuilt.cpu()}


def responsibility_overlay(z: np.ndarray, bases: Sequence[int], shape: tuple[int, int],
                           colours: np.ndarray | None = None) -> np.ndarray:
    """(h, w, 4) RGBA picture of the responsibilities z (N, K) of some bases.

    Each picked base has its colour (``base_colours``); a pixel's colour is the
    z-weighted mix of the picked bases' colours and its opacity the sum of their z
    (at most 1): where none of them is responsible, the image shows through.
    """
    num_bases = z.shape[1]
    bases = [int(b) for b in bases]
    if any(not 0 <= b < num_bases for b in bases):
        raise ValueError(f"bases {bases} outside 0..{num_bases - 1}")
    colours = base_colours(num_bases) if colours is None else colours
    weights = z[:, bases]                                                  # (N, P)
    alpha = np.clip(weights.sum(axis=1), 0.0, 1.0)
    rgb = weights @ colours[bases] / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return np.concatenate([rgb, alpha[:, None]], axis=1).reshape(*shape, 4)


def sign_bases(model: torch.nn.Module, run: ModelRun, stack: int = -1, count: int = 3) -> list[int]:
    """The ``count`` bases most responsible, on average at the last iteration, for the
    positions inside the run's largest ground-truth box (over the whole image when it
    has none): a starting choice for the EM view's bases."""
    emau = model.mask_modules[stack].emau
    x = run.emau_inputs[stack]
    z = em_steps(emau, x)["z"][-1]                                        # (N, K)
    height, width = x.shape[-2:]
    boxes = run.target["boxes"]
    inside = torch.ones(height, width, dtype=torch.bool)
    if len(boxes):
        scale = width / run.image.shape[1]                                # input px -> EM grid
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        x1, y1, x2, y2 = (float(v) * scale for v in boxes[int(areas.argmax())])
        inside = torch.zeros(height, width, dtype=torch.bool)
        inside[int(y1):max(int(y2), int(y1) + 1), int(x1):max(int(x2), int(x1) + 1)] = True
    return z[inside.flatten()].mean(dim=0).argsort(descending=True)[:count].tolist()


def em_data(model: torch.nn.Module, run: ModelRun, stack: int, iteration: int,
            bases: Sequence[int], channel: int, mask_class: int) -> dict[str, Any]:
    """What the EM view draws for one state.

    Returns overlay (h, w, 4) (``responsibility_overlay`` of the picked bases at
    ``iteration``), assignment (h, w): each position's most responsible base, cosine
    (h, w): cosine similarity of every feature vector with its rebuilt version, feature
    and rebuilt (h, w): channel ``channel`` of X and of mu z^T, mask (H/2, W/2): softmax
    probability of mask class ``mask_class`` (0 = background, label + 1 otherwise) or,
    with ``ALL_CLASSES``, the most probable class of each position.
    """
    if not model.has_mask:
        raise ValueError(f"{model.variant} has no mask module; "
                         "use cornernet-mask or mask-cornernet")
    if not 0 <= stack < len(run.emau_inputs):
        raise ValueError(f"stack {stack} outside the model's {len(run.emau_inputs)} mask modules")
    emau = model.mask_modules[stack].emau
    if not 0 <= iteration <= emau.iters:
        raise ValueError(f"iteration {iteration} outside 0..{emau.iters}")
    steps = em_steps(emau, run.emau_inputs[stack])
    height, width = run.emau_inputs[stack].shape[-2:]
    if not 0 <= channel < steps["features"].shape[0]:
        raise ValueError(f"channel {channel} outside 0..{steps['features'].shape[0] - 1}")
    z = steps["z"][iteration].numpy()
    features, rebuilt = steps["features"], steps["rebuilt"][iteration]
    cosine = F.cosine_similarity(features, rebuilt, dim=0)
    logits = run.stacks[stack]["mask"][0]                                   # (C+1, H/2, W/2)
    if mask_class == ALL_CLASSES:
        mask = logits.argmax(dim=0).numpy()
    elif 0 <= mask_class < logits.shape[0]:
        mask = torch.softmax(logits, dim=0)[mask_class].numpy()
    else:
        raise ValueError(f"mask_class {mask_class} outside 0..{logits.shape[0] - 1}")
    return {
        "image": run.image, "boxes": run.target["boxes"].numpy(),
        "overlay": responsibility_overlay(z, bases, (height, width)),
        "assignment": z.argmax(axis=1).reshape(height, width),
        "cosine": cosine.reshape(height, width).numpy(),
        "feature": features[channel].reshape(height, width).numpy(),
        "rebuilt": rebuilt[channel].reshape(height, width).numpy(),
        "mask": mask, "mask_is_classes": mask_class == ALL_CLASSES,
        "num_bases": z.shape[1], "num_classes": logits.shape[0], "bases": list(bases),
        "iteration": iteration, "channel": channel,
    }


def em_figure(data: Mapping[str, Any], mask_name: str = "", title: str = "",
              class_names: Sequence[str] = ()) -> Figure:
    """Two rows of three panels: responsibilities, hard assignment, cosine of the rebuild;
    one feature channel, its rebuilt version, the mask. Under them a legend of the bases'
    colours and, for the mask of the most probable class, of the classes' colours."""
    image = data["image"]
    height, width = image.shape[:2]
    extent = (0, width, height, 0)
    fig = new_figure(PAGE_WIDTH, 6.6, constrained=False)
    axes = fig.subplots(2, 3, gridspec_kw={"wspace": 0.35, "hspace": 0.3})
    t = data["iteration"]
    axes[0, 0].imshow(image)
    # Responsibilities are often close to uniform (1/K each): stretch the opacity from the
    # smallest to the largest summed z of the picked bases, and say what those are.
    overlay = data["overlay"].copy()
    overlay[..., :3] = np.clip(overlay[..., :3], 0.0, 1.0)   # mixing may overshoot by 1e-7
    low, high = float(overlay[..., 3].min()), float(overlay[..., 3].max())
    overlay[..., 3] = 0.85 * (overlay[..., 3] - low) / max(high - low, 1e-6)
    axes[0, 0].imshow(overlay, extent=extent, interpolation="nearest")
    picked = ", ".join(map(str, data["bases"])) or "none"
    plain(axes[0, 0], f"z of bases {picked}, t = {t}\n{low:.2f} (clear) to {high:.2f}; "
                       f"uniform {len(data['bases']) / data['num_bases']:.2f}")
    colours = base_colours(data["num_bases"])
    axes[0, 1].imshow(colours[data["assignment"]], extent=extent, interpolation="nearest")
    plain(axes[0, 1], f"most responsible base, t = {t}")
    shown = axes[0, 2].imshow(data["cosine"], cmap="viridis", vmin=-1, vmax=1, extent=extent)
    colorbar(fig, shown, axes[0, 2])
    plain(axes[0, 2], f"cos(x, rebuilt x)\nmean {data['cosine'].mean():.2f}")
    for ax, key, name in ((axes[1, 0], "feature", "feature"), (axes[1, 1], "rebuilt", "rebuilt")):
        shown = ax.imshow(data[key], cmap="coolwarm", extent=extent, interpolation="nearest")
        colorbar(fig, shown, ax)
        plain(ax, f"{name} channel {data['channel']}" + (f", t = {t}" if key == "rebuilt" else ""))
    axes[1, 2].imshow(image)
    handles = [Patch(color=colours[k], label=f"base {k}") for k in range(min(data["num_bases"], 20))]
    if data["mask_is_classes"]:
        classes = class_colours(data["num_classes"] - 1)
        present = [int(c) for c in np.unique(data["mask"]) if c > 0]
        rgba = np.zeros((*data["mask"].shape, 4))
        for c in present:
            rgba[data["mask"] == c] = (*classes[c - 1], 0.75)
        axes[1, 2].imshow(rgba, extent=extent, interpolation="nearest")
        plain(axes[1, 2], f"mask: most probable class\n{(data['mask'] > 0).mean():.0%} not background")
        handles += [Patch(color=classes[c - 1], label=(class_names[c - 1] if class_names else
                                                       f"class {c}")) for c in present]
    else:
        shown = axes[1, 2].imshow(data["mask"], cmap="magma", vmin=0, vmax=1, alpha=0.7,
                                  extent=extent, interpolation="nearest")
        colorbar(fig, shown, axes[1, 2])
        plain(axes[1, 2], f"mask: P({mask_name or 'class'})\nmax {data['mask'].max():.2f}")
    draw_boxes(axes[1, 2], data["boxes"])
    handles.append(Line2D([], [], color="white", linestyle="--", label="ground truth"))
    legend_below(fig, handles, columns=min(len(handles), 6))
    if title:
        fig.suptitle(title, fontsize=TEXT_SIZE + 1)
    return fig


def em_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                input_size: int | None = None, bases: Sequence[int] | None = None) -> Explorer:
    """EM attention in the mask module of ``model`` (a variant with the mask module):
    controls for the image, the stack, the iteration t = 0..T, the bases to draw (None:
    ``sign_bases`` of the first image's last stack), the feature channel and the mask
    class."""
    if not model.has_mask:
        raise ValueError(f"em_explorer needs a variant with the mask module (cornernet-mask "
                         f"or mask-cornernet); {model.variant} has none")
    names = class_names(model, dataset)
    runs = RunCache(model, dataset, input_size)
    emau = model.mask_modules[0].emau
    num_bases, channels = emau.num_bases, emau.channels
    if bases is None:
        bases = sign_bases(model, runs(index))
    stacks = [f"stack {s + 1}" for s in range(len(model.mask_modules))]
    mask_options = [("most probable class", ALL_CLASSES), ("0: background", 0)]
    mask_options += [(f"{c + 1}: {name}", c + 1) for c, name in enumerate(names)]
    controls = {
        "index": image_slider(dataset, index),
        "stack": widgets.Dropdown(options=[(n, s) for s, n in enumerate(stacks)],
                                  value=len(stacks) - 1, description="stack"),
        "iteration": widgets.IntSlider(value=emau.iters, min=0, max=emau.iters,
                                       description="iteration t", continuous_update=False),
        "bases": widgets.SelectMultiple(options=list(range(num_bases)),
                                        value=tuple(b for b in bases if b < num_bases),
                                        description="bases", rows=min(num_bases, 4)),
        "channel": widgets.IntSlider(value=0, min=0, max=channels - 1, description="channel",
                                     continuous_update=False),
        "mask_class": widgets.Dropdown(options=mask_options, value=ALL_CLASSES,
                                       description="mask"),
    }
    mask_names = dict((value, label) for label, value in mask_options)

    def draw(state: Mapping[str, Any]) -> Figure:
        data = em_data(model, runs(state["index"]), state["stack"], state["iteration"],
                       state["bases"], state["channel"], state["mask_class"])
        return em_figure(data, mask_names[state["mask_class"]],
                         f"image {state['index']}, {stacks[state['stack']]}: EM attention "
                         f"with {num_bases} bases, T = {emau.iters}", names)

    return Explorer(controls, draw,
                    rows=[["index", "stack"], ["iteration", "channel"], ["mask_class", "bases"]])
