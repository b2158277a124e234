"""The corner-pooling views: the four pooling directions of CornerNet (Law and Deng 2018)
on a hand-made feature map of an image region, and what the corner pooling modules of a
trained model do to their own features, along the rows and columns through a sign's
corner. Taught in chapter 5 (with corner pooling itself) and gathered in chapter 12.
"""

from __future__ import annotations

from typing import Any, Mapping

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mcn.corners import corner_cells
from mcn.figures import new_figure
from mcn.nn.corner_pool import DIRECTIONS, corner_pool
from mcn.viz.draw import PAGE_WIDTH, TEXT_SIZE, colorbar, draw_boxes, legend_below, plain
from mcn.viz.explorer import Explorer, image_slider
from mcn.viz.heatmaps import CORNERS
from mcn.viz.run import ModelRun, RunCache, stack_names

#: Hand-made feature maps the corner-pooling view can pool (see ``region_feature``).
POOL_FEATURES = ("redness", "blueness", "brightness", "sign masks")


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
    fig = new_figure(12, 5.8, constrained=False)
    axes = fig.subplots(2, 4)
    height, width = data["feature"].shape
    boxes = data["boxes"]
    panels = [("region", data["image"]), (data["feature_name"], data["feature"])]
    panels += list(data["pooled"].items())
    for ax, (name, value) in zip(axes.flat, panels):
        ax.imshow(value, cmap=None if value.ndim == 3 else "magma", interpolation="nearest")
        draw_boxes(ax, boxes, colour="cyan")
        # The corners each sum serves: TL corners (x1, y1), BR corners' last pixel.
        if name == "top + left":
            ax.plot(boxes[:, 0], boxes[:, 1], "+", color="cyan", markersize=12,
                    markeredgewidth=2, linestyle="none")
        if name == "bottom + right":
            ax.plot(boxes[:, 2] - 1, boxes[:, 3] - 1, "x", color="cyan", markersize=10,
                    markeredgewidth=2, linestyle="none")
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        plain(ax, name)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def corner_pool_explorer(dataset: Any, index: int = 0, x: int = 0, y: int = 0,
                         size: int | None = None, feature: str = "redness") -> Explorer:
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
        "index": image_slider(dataset, index),
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


# --------------------------------------------------------------------------- a trained model

def largest_box(boxes: np.ndarray) -> int:
    """Index of the largest box (N, 4) xyxy by area; -1 when there is none."""
    if len(boxes) == 0:
        return -1
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


@torch.no_grad()
def pool_branches(model: torch.nn.Module, run: ModelRun, stack: int, corner: str
                  ) -> dict[str, torch.Tensor]:
    """The two branch outputs (P, h, w) of one corner pooling module of ``model`` on the
    features it read in ``run``, keyed by the direction each is pooled in ("top" and
    "left" for TL, "bottom" and "right" for BR). The module runs in eval mode."""
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {tuple(CORNERS)}, got {corner!r}")
    if not 0 <= stack < len(run.pool_inputs):
        raise ValueError(f"stack {stack} outside the run's {len(run.pool_inputs)} outputs")
    pool = (model.tl_pools if corner == "tl" else model.br_pools)[stack]
    x = run.pool_inputs[stack].to(next(pool.parameters()).device)
    was_training = pool.training
    pool.eval()
    try:
        branches = (pool.branch_1(x)[0].float().cpu(), pool.branch_2(x)[0].float().cpu())
    finally:
        pool.train(was_training)
    return dict(zip(pool.directions, branches))


def corner_cell(box: np.ndarray, corner: str, stride: int) -> tuple[int, int]:
    """The (column, row) heatmap cell of a box's TL or BR corner (``mcn.corners``' rule)."""
    tl, _, br, _ = corner_cells(torch.as_tensor(box, dtype=torch.float32)[None], stride)
    column, row = (tl if corner == "tl" else br)[0].tolist()
    return int(column), int(row)


def strongest_channel(branches: Mapping[str, torch.Tensor], cell: tuple[int, int]) -> int:
    """The branch channel whose summed pooled maps stand out most at ``cell`` (column,
    row): the value there minus the map's median, largest first."""
    column, row = cell
    summed = sum(corner_pool(value, direction) for direction, value in branches.items())
    contrast = summed[:, row, column] - summed.flatten(1).median(dim=1).values
    return int(contrast.argmax())


def trained_pool_data(model: torch.nn.Module, run: ModelRun, stack: int, corner: str,
                      channel: int | None = None) -> dict[str, Any]:
    """What one corner pooling module of a trained model does to one channel of its
    branches, along the column and the row through the largest sign's corner.

    Returns before / after: {direction: (h, w)} the branch channel before and after
    ``corner_pool``; summed (h, w): the two pooled maps added (what the module's merge
    convolution reads in this channel); cell (column, row) of the sign's corner (None
    without a sign); profiles: {direction: (before (L,), after (L,))} along the column
    (top / bottom pools) or the row (left / right pools) through that cell; channel
    (``strongest_channel`` when None), image, boxes, sign (index or -1), corner, stride.
    """
    branches = pool_branches(model, run, stack, corner)
    channels = next(iter(branches.values())).shape[0]
    boxes = run.target["boxes"].numpy()
    sign = largest_box(boxes)
    height, width = next(iter(branches.values())).shape[1:]
    cell = None
    if sign >= 0:
        column, row = corner_cell(boxes[sign], corner, model.stride)
        cell = (min(max(column, 0), width - 1), min(max(row, 0), height - 1))
    if channel is None:
        channel = strongest_channel(branches, cell) if cell is not None else 0
    if not 0 <= channel < channels:
        raise ValueError(f"channel {channel} outside 0..{channels - 1}")
    before = {d: value[channel].numpy() for d, value in branches.items()}
    after = {d: corner_pool(value[channel], d).numpy() for d, value in branches.items()}
    profiles = {}
    if cell is not None:
        column, row = cell
        for direction in before:
            along = np.s_[:, column] if direction in ("top", "bottom") else np.s_[row, :]
            profiles[direction] = (before[direction][along], after[direction][along])
    return {"before": before, "after": after, "summed": sum(after.values()), "cell": cell,
            "profiles": profiles, "channel": channel, "image": run.image, "boxes": boxes,
            "sign": sign, "corner": corner, "stride": model.stride}


def _profile(ax, direction: str, before: np.ndarray, after: np.ndarray, at: int) -> None:
    """Before and after pooling along one line of cells, the corner's position marked."""
    along = "row" if direction in ("top", "bottom") else "column"  # what the x axis counts
    ax.plot(before, color="0.45", linewidth=1.5, label="before pooling")
    ax.plot(after, color="tab:orange", linewidth=2.2, label=f"after the {direction} pool")
    ax.axvline(at, color="tab:cyan", linestyle=":", linewidth=2, label=f"the corner's {along}")
    ax.set_xlabel(f"{along} (heatmap cells)", fontsize=TEXT_SIZE - 1)
    ax.set_ylabel("activation", fontsize=TEXT_SIZE - 1)
    ax.tick_params(labelsize=TEXT_SIZE - 2)
    ax.grid(linestyle=":")
    ax.legend(fontsize=TEXT_SIZE - 2, loc="best")
    line = "column" if along == "row" else "row"
    ax.set_title(f"{direction} pool along the corner's {line}", fontsize=TEXT_SIZE)


def trained_pool_figure(data: Mapping[str, Any], title: str = "") -> Figure:
    """The image with the sign's corner and the two lines through it; each branch channel
    before and after its pool (one colour scale per branch); the sum of the pooled maps;
    the profiles along the two lines."""
    image, stride = data["image"], data["stride"]
    height, width = image.shape[:2]
    extent = (0, width, height, 0)
    fig = new_figure(PAGE_WIDTH, 9.0, constrained=False)
    grid = fig.add_gridspec(3, 6, height_ratios=[1, 1, 0.85], hspace=0.3, wspace=0.7)
    directions = list(data["before"])
    picture = fig.add_subplot(grid[0, 0:2])
    shown = picture.imshow(image)
    colorbar(fig, shown, picture).remove()  # the same room as the maps' bars, none shown
    draw_boxes(picture, data["boxes"])
    cell = data["cell"]
    marker = "+" if data["corner"] == "tl" else "x"
    centre = None
    if cell is not None:
        centre = ((cell[0] + 0.5) * stride, (cell[1] + 0.5) * stride)
        picture.axvline(centre[0], color="tab:cyan", linestyle=":", linewidth=1.5)
        picture.axhline(centre[1], color="tab:cyan", linestyle=":", linewidth=1.5)
    plain(picture, "the input and the largest sign")
    summed = fig.add_subplot(grid[1, 0:2])
    shown = summed.imshow(data["summed"], cmap="viridis", extent=extent, interpolation="nearest")
    colorbar(fig, shown, summed)
    draw_boxes(summed, data["boxes"])
    plain(summed, " + ".join(directions) + " (what is merged)")
    for row, direction in enumerate(directions):
        peak = max(float(data["before"][direction].max()), 1e-6)
        for column, (key, name) in enumerate((("before", "before"), ("after", "after"))):
            ax = fig.add_subplot(grid[row, 2 + 2 * column:4 + 2 * column])
            shown = ax.imshow(data[key][direction], cmap="magma", vmin=0, vmax=peak,
                              extent=extent, interpolation="nearest")
            draw_boxes(ax, data["boxes"])
            colorbar(fig, shown, ax)
            plain(ax, f"branch {row + 1}, {name} the {direction} pool")
    for ax in fig.axes:
        if centre is not None and ax.images:
            ax.plot(*centre, marker, color="tab:cyan", markersize=11, markeredgewidth=2.5)
            ax.set_xlim(0, width)
            ax.set_ylim(height, 0)
    for column, direction in enumerate(directions):
        ax = fig.add_subplot(grid[2, 3 * column:3 * column + 3])
        if direction in data["profiles"]:
            before, after = data["profiles"][direction]
            at = cell[1] if direction in ("top", "bottom") else cell[0]
            _profile(ax, direction, before, after, at)
        else:
            plain(ax, "no sign in this image: no line to follow")
    legend_below(fig, [
        Line2D([], [], color="white", linestyle="--", label="ground-truth boxes"),
        Line2D([], [], color="tab:cyan", marker=marker, markersize=10, markeredgewidth=2.5,
               linestyle=":", label=f"the largest sign's {CORNERS[data['corner']]} corner "
                                    "and its row and column"),
    ], columns=2)
    fig.suptitle(title or f"channel {data['channel']} of the {CORNERS[data['corner']]} "
                          "corner pooling module", fontsize=TEXT_SIZE + 1, y=0.94)
    return fig


def trained_pool_explorer(model: torch.nn.Module, dataset: Any, index: int = 0,
                          input_size: int | None = None, corner: str = "tl",
                          channel: int | None = None) -> Explorer:
    """The corner pooling modules of a trained ``model`` on its own features: controls for
    the image, the corner type, the stack and the branch channel (None: the channel
    that stands out most at the largest sign's corner of the first image)."""
    runs = RunCache(model, dataset, input_size)
    stacks = stack_names(model)
    last = len(stacks) - 1
    channels = model.tl_pools[0].branch_1[0].out_channels
    if channel is None:
        channel = trained_pool_data(model, runs(index), last, corner)["channel"]
    controls = {
        "index": image_slider(dataset, index),
        "corner": widgets.ToggleButtons(options=[("TL", "tl"), ("BR", "br")], value=corner,
                                        description="corner"),
        "stack": widgets.Dropdown(options=[(n, s) for s, n in enumerate(stacks)], value=last,
                                  description="stack"),
        "channel": widgets.IntSlider(value=channel, min=0, max=channels - 1,
                                     description="channel", continuous_update=False),
    }

    def draw(state: Mapping[str, Any]) -> Figure:
        data = trained_pool_data(model, runs(state["index"]), state["stack"], state["corner"],
                                 state["channel"])
        return trained_pool_figure(data, f"image {state['index']}, {stacks[state['stack']]}: "
                                         f"channel {state['channel']} of the "
                                         f"{CORNERS[state['corner']]} corner pooling module")

    return Explorer(controls, draw, rows=[["index", "stack"], ["corner", "channel"]])
