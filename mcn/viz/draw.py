"""Drawing helpers of the views and of ``mcn predict``: colours, boxes, panel titles,
detections painted onto an image.

Every view of ``mcn.viz`` draws with these, on figures from ``mcn.figures.new_figure``;
``draw_prediction`` paints the detections and the mask of Mask-CornerNet (Yang, Fan and
Guo, 2020) onto the image itself with OpenCV. Taught in chapter 12 (and used from
chapter 5 on).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mcn.data.images import save_image

#: Width in inches of a view's figure: the book's text column at the 80 dpi of
#: ``mcn.figures.figure_png``, so that a picture is shown at its own size and its text
#: stays readable (wider figures are scaled down, and their labels with them).
PAGE_WIDTH = 9.4

#: Font size of panel titles and legends.
TEXT_SIZE = 10


def base_colours(count: int) -> np.ndarray:
    """(count, 3) RGB colours in [0, 1], one per EM base or class, well apart for <= 20."""
    if count <= 20:
        return np.asarray(colormaps["tab20"].colors)[:count]
    return colormaps["hsv"](np.linspace(0, 1, count, endpoint=False))[:, :3]


def draw_boxes(ax, boxes: np.ndarray, colour: str = "white", style: str = "--") -> None:
    """Boxes (N, 4) xyxy as unfilled rectangles on ``ax``."""
    for x1, y1, x2, y2 in boxes:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                               linestyle=style, linewidth=1))


def colorbar(fig: Figure, shown, ax, label: str = ""):
    """A colour bar beside ``ax`` with short tick labels (three significant digits) and
    what its colours measure; returns it."""
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, format="%.3g")
    bar.ax.tick_params(labelsize=TEXT_SIZE - 2)
    if label:
        bar.set_label(label, fontsize=TEXT_SIZE - 1)
    return bar


def legend_below(fig: Figure, handles: Sequence[Any], columns: int = 3) -> None:
    """A figure-wide legend just under the lowest panel: what the colours and line
    styles mean.

    Dark grey behind white text, so that the white and light marks drawn on pictures
    show in the legend as they do on the pictures.
    """
    lowest = 1.0
    for ax in fig.axes:
        ax.apply_aspect()  # pictures shrink to their aspect ratio inside their slot
        room = 0.07 if ax.get_xlabel() or ax.get_xticks().size else 0.0  # tick labels, label
        lowest = min(lowest, ax.get_position().y0 - room)
    # Anchored under the panels: savefig's tight bounding box takes it in.
    fig.legend(handles=handles, loc="upper center", ncol=columns, fontsize=TEXT_SIZE - 1,
               bbox_to_anchor=(0.5, lowest - 0.01), facecolor="0.3", edgecolor="0.3",
               labelcolor="white", framealpha=1.0)


def plain(ax, title: str) -> None:
    """A title and no ticks: a picture, not a plot."""
    ax.set_title(title, fontsize=TEXT_SIZE)
    ax.set_xticks([])
    ax.set_yticks([])


def class_colour(label: int) -> tuple[int, int, int]:
    """A distinct, repeatable RGB colour per class (golden-angle hues)."""
    hue = int((label * 137.508) % 180)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def class_colours(count: int) -> np.ndarray:
    """(count, 3) RGB colours in [0, 1] of classes 0..count-1: ``class_colour``'s, the
    colours ``draw_prediction`` and ``mcn predict`` give them (unlike ``base_colours``,
    so that classes and EM bases never share a colour by accident)."""
    return np.array([class_colour(c) for c in range(count)], dtype=np.float64).reshape(-1, 3) / 255


def draw_prediction(image: torch.Tensor, prediction: dict[str, Any], classes: Sequence[str],
                    min_score: float = 0.3, mask_alpha: float = 0.45) -> np.ndarray:
    """The image (3, H, W) uint8 with the mask tinted and boxes, labels, scores drawn.

    Returns an RGB uint8 array (H, W, 3). Only detections scoring >= ``min_score``
    (in [0, 1]) are drawn; the mask shows every non-background pixel.
    """
    canvas = np.ascontiguousarray(image.permute(1, 2, 0).cpu().numpy()).copy()
    mask = prediction.get("mask")
    if mask is not None:
        mask = mask.numpy()
        tint = canvas.astype(np.float32)
        for value in np.unique(mask[mask > 0]):
            where = mask == value
            tint[where] = (1 - mask_alpha) * tint[where] + mask_alpha * np.array(class_colour(int(value) - 1))
        canvas = tint.round().clip(0, 255).astype(np.uint8)
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for box, score, label in zip(prediction["boxes"].tolist(), prediction["scores"].tolist(),
                                 prediction["labels"].tolist()):
        if score < min_score:
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        colour = class_colour(int(label))
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), colour, thickness)
        text = f"{classes[int(label)]} {score:.2f}"
        scale = 0.35 * thickness
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y2 + th + 2
        cv2.rectangle(canvas, (x1, ty - th - base), (x1 + tw, ty + base - 1), colour, -1)
        cv2.putText(canvas, text, (x1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 array (H, W, 3) as PNG, creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_image(path.with_suffix(".png"), torch.from_numpy(rgb).permute(2, 0, 1))
