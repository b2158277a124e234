"""Interactive views of Mask-CornerNet (Yang, Fan and Guo, "Anchor-free object detection
with mask attention", EURASIP J. Image Video Process. 2020): sliders and menus that look
inside a model.

* ``heatmap_explorer``     corner heatmaps per image, corner type, class and stack, with
                           the corners the decoder would keep (CornerNet, Law and Deng 2018)
* ``em_explorer``          EM attention inside the mask module, iteration by iteration:
                           responsibilities, rebuilt features, the mask per class (EMANet,
                           Li et al. 2019)
* ``decode_explorer``      which TL/BR pairs the decoder keeps and why it rejects the others,
                           and what soft-NMS (Bodla et al. 2017) does to the kept ones
* ``corner_pool_explorer`` the four corner-pooling directions on a region of an image

Every view is two layers. Pure functions (``run_model``, ``heatmap_data``, ``em_steps``,
``em_data``, ``pair_candidates``, ``pool_data`` and the ``*_figure`` functions) take a
state and return arrays or a matplotlib ``Figure``; they need no browser and are what the
tests check. The ``*_explorer`` functions wire ipywidgets controls to them and return an
``Explorer``: a ``VBox`` of controls above a picture that is redrawn when a control changes.

Static pages. When a notebook is executed by nbclient (as the book's build does), the
widgets' last state is saved in the notebook and the HTML page redraws them with the
ipywidgets JavaScript, which it loads from a CDN. Each ``Explorer`` also carries an HTML
fallback in its display data: the picture of its current state, shown where the widget
JavaScript cannot run (no network, GitHub's notebook viewer) and hidden once the live
widget has rendered. The fallback is used only where ``text/html`` is preferred to the
widget view: Jupyter and Colab show the live widget; a Sphinx/myst-nb page needs
``nb_mime_priority_overrides = [("html", "text/html", 5)]`` (myst-nb ranks the widget
view first by default, and then an offline reader sees nothing in its place).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from mcn.data.transforms import denormalize, eval_transform
from mcn.decode import soft_nms, top_corners
from mcn.nn.corner_pool import DIRECTIONS, corner_pool
from mcn.nn.em_attention import EMAU, em_iterations

__all__ = [
    "ALL_CLASSES",
    "CORNERS",
    "POOL_FEATURES",
    "REJECTION_REASONS",
    "Explorer",
    "ModelRun",
    "base_colours",
    "corner_pool_explorer",
    "corner_pool_figure",
    "decode_explorer",
    "decode_figure",
    "em_data",
    "em_explorer",
    "em_figure",
    "em_steps",
    "figure_png",
    "heatmap_data",
    "heatmap_explorer",
    "heatmap_figure",
    "pair_candidates",
    "pool_data",
    "region_feature",
    "responsibility_overlay",
    "run_model",
    "stack_names",
]

#: Corner types: the prefix of the output keys ("tl_heat", ...) and what to call them.
CORNERS = {"tl": "top-left", "br": "bottom-right"}
#: Why the decoder rejects a TL/BR pair (index 0: it does not), in the order checked.
REJECTION_REASONS = ("kept", "different classes", "embeddings too far apart",
                     "BR not right of and below TL")
#: Hand-made feature maps the corner-pooling demo can pool (see ``region_feature``).
POOL_FEATURES = ("redness", "blueness", "brightness", "sign masks")
#: Value of "class" controls that means "every class at once".
ALL_CLASSES = -1

_DPI = 80


# =========================================================================== running the model


@dataclass
class ModelRun:
    """One image passed through a model, everything the views draw from (CPU tensors).

    image: (S, S, 3) uint8, the letterboxed input as the model saw it (S = input size);
    target: the ground truth moved to input pixels ("boxes" (N, 4), "labels", "masks");
    stacks: ``model.forward_stacks(x, last_only=False)``, one output dict per stack;
    emau_inputs: per stack, the (1, M, S/2, S/2) input of the mask module's EM unit
    (empty for variants without the mask module).
    """

    image: np.ndarray
    target: dict[str, Any]
    stacks: list[dict[str, torch.Tensor]]
    emau_inputs: list[torch.Tensor]


def stack_names(model: torch.nn.Module) -> list[str]:
    """A name for each entry of ``forward_stacks``: "stack 1", ...; with fusion the last
    entry is the heads' output on the summed features of all stacks, called "fused"."""
    count = len(model.hourglasses)
    names = [f"stack {s + 1}" for s in range(count)]
    if getattr(model, "fusion", False) and count > 1:
        names[-1] = f"fused (stacks 1-{count} summed)"
    return names


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def run_model(model: torch.nn.Module, dataset: Any, index: int,
              input_size: int | None = None) -> ModelRun:
    """Letterbox item ``index`` of ``dataset`` to ``input_size`` and run every stack.

    The model runs in eval mode (BatchNorm statistics and the EM bases stay untouched)
    and is put back in the mode it was in.
    """
    if not 0 <= index < len(dataset):
        raise IndexError(f"index {index} outside the dataset's {len(dataset)} images")
    input_size = int(input_size or model.input_size)
    if input_size % model.input_multiple:
        raise ValueError(f"input_size {input_size} is not a multiple of the model's "
                         f"input_multiple {model.input_multiple}")
    image, target = dataset[index]
    x, moved = eval_transform(input_size)(image, target)
    # A forward pre-hook on each EM unit keeps its input: what em_steps needs later.
    captured: dict[int, torch.Tensor] = {}

    def keeper(stack: int) -> Callable:
        def keep_input(_module: torch.nn.Module, args: tuple) -> None:
            captured[stack] = args[0].detach().float().cpu()
        return keep_input

    mask_modules = model.mask_modules if model.has_mask else []
    hooks = [module.emau.register_forward_pre_hook(keeper(s))
             for s, module in enumerate(mask_modules)]
    was_training = model.training
    model.eval()
    try:
        stacks = model.forward_stacks(x[None].to(_model_device(model)), last_only=False)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    stacks = [{key: value.detach().float().cpu() for key, value in out.items()} for out in stacks]
    display = denormalize(x).permute(1, 2, 0).numpy()
    return ModelRun(display, moved, stacks, [captured[s] for s in sorted(captured)])


class _RunCache:
    """The last few ``ModelRun``s of one model and dataset, so that moving a slider other
    than the image index redraws without running the network again."""

    def __init__(self, model: torch.nn.Module, dataset: Any, input_size: int | None, size: int = 4):
        self.model, self.dataset, self.input_size, self.size = model, dataset, input_size, size
        self.runs: dict[int, ModelRun] = {}

    def __call__(self, index: int) -> ModelRun:
        if index not in self.runs:
            if len(self.runs) >= self.size:
                self.runs.pop(next(iter(self.runs)))
            self.runs[index] = run_model(self.model, self.dataset, index, self.input_size)
        return self.runs[index]


def _class_names(model: torch.nn.Module, dataset: Any) -> list[str]:
    names = getattr(dataset, "classes", None)
    if names is None:
        return [str(c) for c in range(model.num_classes)]
    if len(names) != model.num_classes:
        raise ValueError(f"dataset has {len(names)} classes but the model has "
                         f"{model.num_classes} heatmap channels; build the model with "
                         f"num_classes={len(names)} or pass a matching dataset")
    return list(names)


# =========================================================================== drawing helpers


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (a ``Figure`` made without pyplot needs no backend)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def base_colours(count: int) -> np.ndarray:
    """(count, 3) RGB colours in [0, 1], one per EM base or class, well apart for <= 20."""
    if count <= 20:
        return np.asarray(colormaps["tab20"].colors)[:count]
    return colormaps["hsv"](np.linspace(0, 1, count, endpoint=False))[:, :3]


def _draw_boxes(ax, boxes: np.ndarray, colour: str = "white", style: str = "--") -> None:
    for x1, y1, x2, y2 in boxes:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                               linestyle=style, linewidth=1))


def _colorbar(fig: Figure, shown, ax) -> None:
    """A colour bar beside ``ax`` with short tick labels (three significant digits)."""
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, format="%.3g")


def _plain(ax, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


# =========================================================================== heatmap explorer


def heatmap_data(run: ModelRun, stack: int, corner: str, class_index: int,
                 threshold: float, k: int = 100, stride: int = 4) -> dict[str, Any]:
    """What the heatmap view draws for one state.

    Returns heat (h, w): the sigmoid of the chosen class channel of ``{corner}_heat``
    (with ``ALL_CLASSES``, the maximum over classes); corners: the decoder's top-K local
    peaks over all classes (``mcn.decode.top_corners``) of that class with a score of at
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
    """Left: the heatmap over the image with the detected corners; right: the heatmap."""
    image, heat = data["image"], data["heat"]
    height, width = image.shape[:2]
    fig = Figure(figsize=(10, 4.6))
    left, right = fig.subplots(1, 2)
    left.imshow(image)
    # Colour relative to the maximum (as on the right); opacity grows with the probability
    # itself, its square root so that the peaks of a weakly trained model still show.
    peak = max(float(heat.max()), 1e-6)
    tint = colormaps["magma"](heat / peak)
    tint[..., 3] = 0.85 * np.sqrt(np.clip(heat, 0.0, 1.0))
    left.imshow(tint, extent=(0, width, height, 0), interpolation="nearest")
    _draw_boxes(left, data["boxes"])
    corners = data["corners"]
    marker = "+" if data["corner"] == "tl" else "x"
    left.plot(corners["xs"], corners["ys"], marker, color="cyan", markersize=10,
              markeredgewidth=2, linestyle="none")
    left.set_xlim(0, width)
    left.set_ylim(height, 0)
    _plain(left, f"{len(corners['xs'])} {CORNERS[data['corner']]} corners with score >= "
                 f"{data['threshold']:.3f}; ground truth dashed")
    shown = right.imshow(heat, cmap="magma", vmin=0, vmax=peak, interpolation="nearest")
    _colorbar(fig, shown, right)
    _plain(right, f"probability, max {heat.max():.3f} (grid {heat.shape[1]} x {heat.shape[0]})")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _image_slider(dataset: Any, index: int) -> widgets.IntSlider:
    return widgets.IntSlider(value=index, min=0, max=len(dataset) - 1, description="image",
                             continuous_update=False)


def _class_dropdown(names: Sequence[str], value: int, first: str = "all classes (max)",
                    first_value: int = ALL_CLASSES) -> widgets.Dropdown:
    options = [(first, first_value)] + [(f"{c}: {name}", c) for c, name in enumerate(names)]
    return widgets.Dropdown(options=options, value=value, description="class")


def heatmap_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                     input_size: int | None = None, threshold: float = 0.3,
                     class_index: int = ALL_CLASSES, k: int = 100) -> "Explorer":
    """Heatmaps of image ``index``: controls for the image, corner type, class, stack and
    score threshold. ``model``: any variant of ``mcn.models.build_model``; ``dataset``:
    items (uint8 image, target), e.g. ``mcn.data.SyntheticSigns``."""
    names = _class_names(model, dataset)
    runs = _RunCache(model, dataset, input_size)
    stacks = stack_names(model)
    controls = {
        "index": _image_slider(dataset, index),
        "corner": widgets.ToggleButtons(options=[("TL", "tl"), ("BR", "br")], value="tl",
                                        description="corner"),
        "class_index": _class_dropdown(names, class_index),
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


# =========================================================================== EM attention explorer


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


def em_figure(data: Mapping[str, Any], mask_name: str = "", title: str = "") -> Figure:
    """Two rows of three panels: responsibilities, hard assignment, cosine of the rebuild;
    one feature channel, its rebuilt version, the mask."""
    image = data["image"]
    height, width = image.shape[:2]
    extent = (0, width, height, 0)
    fig = Figure(figsize=(11, 7.4))
    axes = fig.subplots(2, 3)
    t = data["iteration"]
    axes[0, 0].imshow(image)
    # Responsibilities are often close to uniform (1/K each): stretch the opacity from the
    # smallest to the largest summed z of the picked bases, and say what those are.
    overlay = data["overlay"].copy()
    low, high = float(overlay[..., 3].min()), float(overlay[..., 3].max())
    overlay[..., 3] = 0.85 * (overlay[..., 3] - low) / max(high - low, 1e-6)
    axes[0, 0].imshow(overlay, extent=extent, interpolation="nearest")
    picked = ", ".join(map(str, data["bases"])) or "none"
    _plain(axes[0, 0], f"z of bases {picked} at t = {t}: {low:.2f} (clear) to "
                       f"{high:.2f}\n(uniform z: {len(data['bases']) / data['num_bases']:.2f})")
    colours = base_colours(data["num_bases"])
    axes[0, 1].imshow(colours[data["assignment"]], extent=extent, interpolation="nearest")
    _plain(axes[0, 1], f"most responsible base at t = {t} ({data['num_bases']} bases)")
    shown = axes[0, 2].imshow(data["cosine"], cmap="viridis", vmin=-1, vmax=1, extent=extent)
    _colorbar(fig, shown, axes[0, 2])
    _plain(axes[0, 2], f"cosine(x, rebuilt x), mean {data['cosine'].mean():.2f}")
    for ax, key, name in ((axes[1, 0], "feature", "feature"), (axes[1, 1], "rebuilt", "rebuilt")):
        shown = ax.imshow(data[key], cmap="coolwarm", extent=extent, interpolation="nearest")
        _colorbar(fig, shown, ax)
        _plain(ax, f"{name} channel {data['channel']}" + (f", t = {t}" if key == "rebuilt" else ""))
    axes[1, 2].imshow(image)
    if data["mask_is_classes"]:
        classes = base_colours(data["num_classes"])
        rgba = np.concatenate([classes[data["mask"]], (data["mask"] > 0)[..., None] * 0.7], axis=2)
        axes[1, 2].imshow(rgba, extent=extent, interpolation="nearest")
        _plain(axes[1, 2], f"mask: most probable class ({int((data['mask'] > 0).mean() * 100)} % "
                           f"not background)")
    else:
        shown = axes[1, 2].imshow(data["mask"], cmap="magma", vmin=0, vmax=1, alpha=0.7,
                                  extent=extent, interpolation="nearest")
        _colorbar(fig, shown, axes[1, 2])
        _plain(axes[1, 2], f"mask: P({mask_name or 'class'}), max {data['mask'].max():.2f}")
    _draw_boxes(axes[1, 2], data["boxes"])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def em_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                input_size: int | None = None, bases: Sequence[int] = (0, 1, 2)) -> "Explorer":
    """EM attention in the mask module of ``model`` (a variant with the mask module):
    controls for the image, the stack, the iteration t = 0..T, the bases to draw, the
    feature channel and the mask class."""
    if not model.has_mask:
        raise ValueError(f"em_explorer needs a variant with the mask module (cornernet-mask "
                         f"or mask-cornernet); {model.variant} has none")
    names = _class_names(model, dataset)
    runs = _RunCache(model, dataset, input_size)
    emau = model.mask_modules[0].emau
    num_bases, channels = emau.num_bases, emau.channels
    stacks = [f"stack {s + 1}" for s in range(len(model.mask_modules))]
    mask_options = [("most probable class", ALL_CLASSES), ("0: background", 0)]
    mask_options += [(f"{c + 1}: {name}", c + 1) for c, name in enumerate(names)]
    controls = {
        "index": _image_slider(dataset, index),
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
                         f"with {num_bases} bases, T = {emau.iters}")

    return Explorer(controls, draw,
                    rows=[["index", "stack"], ["iteration", "channel"], ["mask_class", "bases"]])


# =========================================================================== decode explorer


def pair_candidates(outputs: Mapping[str, torch.Tensor], k: int = 100, ae_threshold: float = 0.5,
                    score_threshold: float = 0.3, stride: int = 4, num_dets: int = 100,
                    sigma: float = 0.5) -> dict[str, Any]:
    """Every TL/BR pair of the first image whose score reaches ``score_threshold``, and
    what the decoder (``mcn.decode``) does with it.

    Corners: ``top_corners`` (K of each type). A pair's score is the mean of its corner
    scores; its reason (index into ``REJECTION_REASONS``) is 0 when the decoder keeps it,
    otherwise the first rule it breaks: classes differ, ``|e_TL - e_BR| > ae_threshold``,
    or BR not strictly right of and below TL. The kept pairs, best first, at most
    ``num_dets`` of them, then go through soft-NMS; ``survives`` says which keep a
    decayed score >= ``score_threshold`` (those are ``decode``'s detections).

    Returns numpy arrays over the candidate pairs, best first: tl, br (corner indices),
    scores, labels (the TL corner's class), reasons, boxes (P, 4) xyxy input pixels,
    survives (bool), final_scores (after soft-NMS, 0 where not kept); and tl, br
    corner dicts under "tl_corners", "br_corners".
    """
    def corners(kind: str) -> dict[str, torch.Tensor]:
        found = top_corners(outputs[f"{kind}_heat"][:1], outputs[f"{kind}_emb"][:1],
                            outputs[f"{kind}_off"][:1], k, stride)
        return {name: value[0] for name, value in found.items()}

    tl, br = corners("tl"), corners("br")
    scores = (tl["scores"][:, None] + br["scores"][None, :]) / 2               # (K, K)
    reasons = torch.zeros(scores.shape, dtype=torch.int64)
    rules = (
        tl["labels"][:, None] != br["labels"][None, :],
        (tl["emb"][:, None] - br["emb"][None, :]).abs() > ae_threshold,
        (br["xs"][None, :] <= tl["xs"][:, None]) | (br["ys"][None, :] <= tl["ys"][:, None]),
    )
    for number, broken in reversed(list(enumerate(rules, start=1))):  # the first rule wins
        reasons[broken] = number
    tl_i, br_i = torch.nonzero(scores >= score_threshold, as_tuple=True)
    order = scores[tl_i, br_i].argsort(descending=True, stable=True)
    tl_i, br_i = tl_i[order], br_i[order]
    pair_scores, pair_reasons = scores[tl_i, br_i], reasons[tl_i, br_i]
    boxes = torch.stack([tl["xs"][tl_i], tl["ys"][tl_i], br["xs"][br_i], br["ys"][br_i]], dim=1)
    labels = tl["labels"][tl_i]

    kept = torch.nonzero(pair_reasons == 0).flatten()[:num_dets]
    survives = torch.zeros(len(tl_i), dtype=torch.bool)
    final_scores = torch.zeros(len(tl_i))
    if len(kept):
        keep, decayed = soft_nms(boxes[kept], pair_scores[kept], labels[kept], sigma,
                                 score_threshold)
        survives[kept[keep]] = True
        final_scores[kept[keep]] = decayed
    as_numpy = {name: value.numpy() for name, value in (
        ("tl", tl_i), ("br", br_i), ("scores", pair_scores), ("labels", labels),
        ("reasons", pair_reasons), ("boxes", boxes), ("survives", survives),
        ("final_scores", final_scores))}
    as_numpy["tl_corners"] = {name: value.numpy() for name, value in tl.items()}
    as_numpy["br_corners"] = {name: value.numpy() for name, value in br.items()}
    as_numpy["num_dets"] = num_dets
    return as_numpy


def decode_figure(pairs: Mapping[str, Any], image: np.ndarray, class_names: Sequence[str] = (),
                  max_drawn: int = 40, title: str = "") -> Figure:
    """Left: kept pairs as boxes (solid: they survive soft-NMS; dotted: soft-NMS pushed
    them below the threshold). Right: the ``max_drawn`` best rejected pairs as TL-BR
    segments coloured by the reason, with the count of every reason in the legend."""
    height, width = image.shape[:2]
    fig = Figure(figsize=(11, 5.2))
    left, right = fig.subplots(1, 2)
    for ax in (left, right):
        ax.imshow(image)
    reasons = pairs["reasons"]
    kept = np.nonzero(reasons == 0)[0]
    colours = base_colours(max(len(class_names), int(pairs["labels"].max(initial=0)) + 1))
    for i in kept[::-1]:  # best drawn last, on top
        x1, y1, x2, y2 = pairs["boxes"][i]
        colour = colours[pairs["labels"][i]]
        solid = bool(pairs["survives"][i])
        left.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                                 linewidth=2 if solid else 1, linestyle="-" if solid else ":"))
        if solid:
            name = class_names[pairs["labels"][i]] if class_names else str(pairs["labels"][i])
            left.text(x1, y1 - 2, f"{name} {pairs['final_scores'][i]:.2f}", color="white",
                      fontsize=7,
                      bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "linewidth": 0})
    _plain(left, f"kept {len(kept)}: {int(pairs['survives'].sum())} survive soft-NMS (solid)")
    reason_colours = {1: "tab:orange", 2: "tab:purple", 3: "tab:red"}
    rejected = np.nonzero(reasons > 0)[0]
    for i in rejected[:max_drawn][::-1]:
        x1, y1, x2, y2 = pairs["boxes"][i]
        colour = reason_colours[int(reasons[i])]
        right.plot([x1, x2], [y1, y2], "-", color=colour, linewidth=1, alpha=0.8)
        right.plot([x1], [y1], "o", color=colour, markersize=4)
        right.plot([x2], [y2], "s", color=colour, markersize=4)
    legend = [Line2D([], [], color=colour, marker="o",
                     label=f"{REJECTION_REASONS[r]}: {int((reasons == r).sum())}")
              for r, colour in reason_colours.items()]
    right.legend(handles=legend, fontsize=7, loc="lower right", title="o TL, s BR",
                 title_fontsize=7)
    _plain(right, f"rejected {len(rejected)} (the best {min(max_drawn, len(rejected))} drawn)")
    for ax in (left, right):
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def decode_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                    input_size: int | None = None, k: int = 100, ae_threshold: float = 0.5,
                    score_threshold: float = 0.3) -> "Explorer":
    """The decoder on the model's eval-mode output (the last entry of ``forward_stacks``):
    controls for the image, K, the embedding threshold and the score threshold."""
    names = _class_names(model, dataset)
    runs = _RunCache(model, dataset, input_size)
    controls = {
        "index": _image_slider(dataset, index),
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
        return decode_figure(pairs, run.image, names,
                             title=f"image {state['index']}: {len(pairs['scores'])} pairs of "
                                   f"{state['k']} x {state['k']} score >= "
                                   f"{state['score_threshold']:.3f}")

    return Explorer(controls, draw, rows=[["index", "k"], ["ae_threshold", "score_threshold"]])


# =========================================================================== corner pooling demo


def region_feature(image: np.ndarray, masks: torch.Tensor | None, feature: str) -> np.ndarray:
    """A hand-made feature map (H, W) float32 of an RGB uint8 image (H, W, 3).

    redness / blueness: how far red / blue exceeds the larger other channel (sign rings
    and blue signs), brightness: the channel mean, "sign masks": the union of the
    ground-truth masks (N, H, W).
    """
    pixels = image.astype(np.float32) / 255.0
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    if feature == "redness":
        return np.clip(red - np.maximum(green, blue), 0.0, None)
    if feature == "blueness":
        return np.clip(blue - np.maximum(red, green), 0.0, None)
    if feature == "brightness":
        return pixels.mean(axis=2)
    if feature == "sign masks":
        if masks is None or len(masks) == 0:
            return np.zeros(image.shape[:2], dtype=np.float32)
        return masks.any(dim=0).numpy().astype(np.float32)
    raise ValueError(f"feature must be one of {POOL_FEATURES}, got {feature!r}")


def pool_data(image: np.ndarray, target: Mapping[str, Any], x: int, y: int, size: int,
              feature: str) -> dict[str, Any]:
    """The region [y, y + size) x [x, x + size) of the image (clipped), its feature map and
    its pooled maps: one per direction of ``mcn.nn.corner_pool`` plus the two sums the
    corner pooling modules use, "top + left" (TL) and "bottom + right" (BR)."""
    height, width = image.shape[:2]
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    x0, y0 = min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)
    x1, y1 = min(x0 + int(size), width), min(y0 + int(size), height)
    full = region_feature(image, target.get("masks"), feature)
    region = torch.from_numpy(np.ascontiguousarray(full[y0:y1, x0:x1]))
    pooled = {d: corner_pool(region, d).numpy() for d in DIRECTIONS}
    pooled["top + left"] = pooled["top"] + pooled["left"]
    pooled["bottom + right"] = pooled["bottom"] + pooled["right"]
    boxes = target["boxes"].numpy() - np.array([x0, y0, x0, y0], dtype=np.float32)
    return {"image": image[y0:y1, x0:x1], "feature": region.numpy(), "pooled": pooled,
            "boxes": boxes, "window": (x0, y0, x1, y1), "feature_name": feature}


def corner_pool_figure(data: Mapping[str, Any], title: str = "") -> Figure:
    """The region, its feature map and the six pooled maps (each its own colour scale),
    ground-truth boxes dashed, their TL corners (+) on top + left and their BR corners (x)
    on bottom + right."""
    fig = Figure(figsize=(12, 5.8))
    axes = fig.subplots(2, 4)
    height, width = data["feature"].shape
    boxes = data["boxes"]
    panels = [("region", data["image"]), (data["feature_name"], data["feature"])]
    panels += list(data["pooled"].items())
    for ax, (name, value) in zip(axes.flat, panels):
        ax.imshow(value, cmap=None if value.ndim == 3 else "magma", interpolation="nearest")
        _draw_boxes(ax, boxes, colour="cyan")
        # The corners each sum serves: TL corners (x1, y1), BR corners' last pixel.
        if name == "top + left":
            ax.plot(boxes[:, 0], boxes[:, 1], "+", color="cyan", markersize=12,
                    markeredgewidth=2, linestyle="none")
        if name == "bottom + right":
            ax.plot(boxes[:, 2] - 1, boxes[:, 3] - 1, "x", color="cyan", markersize=10,
                    markeredgewidth=2, linestyle="none")
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        _plain(ax, name)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def corner_pool_explorer(dataset: Any, index: int = 0, x: int = 0, y: int = 0,
                         size: int | None = None, feature: str = "redness") -> "Explorer":
    """Corner pooling of a hand-made feature map on a square region of an image: controls
    for the image, the region's corner (x, y) and side, and the feature."""
    image, _ = dataset[index]
    height, width = image.shape[1:]
    size = size or min(height, width) // 2
    items: dict[int, tuple[np.ndarray, dict]] = {}

    def item(i: int) -> tuple[np.ndarray, dict]:
        if i not in items:
            picture, target = dataset[i]
            items.clear()  # one image at a time is enough here
            items[i] = (picture.permute(1, 2, 0).numpy(), target)
        return items[i]

    controls = {
        "index": _image_slider(dataset, index),
        "feature": widgets.Dropdown(options=list(POOL_FEATURES), value=feature,
                                    description="feature"),
        "x": widgets.IntSlider(value=x, min=0, max=width - 1, description="x",
                               continuous_update=False),
        "y": widgets.IntSlider(value=y, min=0, max=height - 1, description="y",
                               continuous_update=False),
        "size": widgets.IntSlider(value=size, min=8, max=max(height, width), description="size",
                                  continuous_update=False),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        picture, target = item(state["index"])
        data = pool_data(picture, target, state["x"], state["y"], state["size"], state["feature"])
        x0, y0, x1, y1 = data["window"]
        return corner_pool_figure(data, f"image {state['index']}, region x {x0}..{x1 - 1}, "
                                        f"y {y0}..{y1 - 1}: corner pooling of {state['feature']}")

    return Explorer(controls, draw, rows=[["index", "feature"], ["x", "y"], ["size"]])


# =========================================================================== the widget


class Explorer(widgets.VBox):
    """Rows of controls above a picture (an ``ipywidgets.Image``) that ``draw`` redraws.

    controls: name -> widget with a ``value``; draw: {name: value} -> matplotlib Figure;
    rows: the control names of each row (default: one row). ``update()`` redraws from the
    current values (every control calls it when its value changes); ``view.value`` holds
    the PNG shown.
    """

    def __init__(self, controls: Mapping[str, widgets.Widget], draw: Callable[[dict], Figure],
                 rows: Sequence[Sequence[str]] | None = None) -> None:
        rows = rows or [list(controls)]
        missing = set(controls) - {name for row in rows for name in row}
        if missing:
            raise ValueError(f"Explorer: controls {sorted(missing)} are in no row")
        view = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        wrap = widgets.Layout(flex_flow="row wrap")
        super().__init__([widgets.HBox([controls[name] for name in row], layout=wrap)
                          for row in rows] + [view])
        self.controls = dict(controls)
        self.view = view
        self._draw = draw
        for control in self.controls.values():
            _fit(control)
            control.observe(self._on_change, names="value")
        self.update()

    def state(self) -> dict[str, Any]:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self) -> None:
        """Redraw the picture from the controls' current values."""
        fig = self._draw(self.state())
        self.view.value = figure_png(fig)

    def _on_change(self, _change: Mapping[str, Any]) -> None:
        self.update()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view plus an HTML fallback: the current picture, hidden by CSS once
        the widget JavaScript has drawn the live widget next to it."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        view = data.get("application/vnd.jupyter.widget-view+json") if data else None
        if view is not None and self.view.value:
            data["text/html"] = _fallback_html(self.view.value, view)
        return bundle


def _fit(control: widgets.Widget) -> None:
    """One width for every control, so that two fit side by side in a book's column."""
    control.layout.width = "290px"
    if hasattr(control.style, "description_width"):
        control.style.description_width = "100px"
    if isinstance(control, widgets.ToggleButtons):
        control.style.button_width = "60px"


def _fallback_html(png: bytes, view: Mapping[str, Any]) -> str:
    picture = base64.b64encode(png).decode("ascii")
    # "</" cannot end the script early: json.dumps of a model id never contains it.
    return (
        '<div class="mcn-explorer">'
        "<style>.mcn-explorer:has(.widget-subarea) > img.mcn-snapshot"
        "{display: none;}</style>"
        '<img class="mcn-snapshot jupyter-widget" alt="the widget\'s picture" '
        f'src="data:image/png;base64,{picture}"/>'
        f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(dict(view))}</script>'
        "</div>"
    )
