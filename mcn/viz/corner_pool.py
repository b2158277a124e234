"""The corner-pooling view: the four pooling directions of CornerNet (Law and Deng 2018)
on a hand-made feature map of an image region. Taught in chapter 12; corner pooling
itself in chapter 5.
"""

from __future__ import annotations

from typing import Any, Mapping

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from mcn.figures import new_figure
from mcn.nn.corner_pool import DIRECTIONS, corner_pool
from mcn.viz.draw import draw_boxes, plain
from mcn.viz.explorer import Explorer, image_slider

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
