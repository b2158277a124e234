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


def colorbar(fig: Figure, shown, ax) -> None:
    """A colour bar beside ``ax`` with short tick labels (three significant digits)."""
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, format="%.3g")


def plain(ax, title: str) -> None:
    """A small title and no ticks: a picture, not a plot."""
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def class_colour(label: int) -> tuple[int, int, int]:
    """A distinct, repeatable RGB colour per class (golden-angle hues)."""
    hue = int((label * 137.508) % 180)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


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
