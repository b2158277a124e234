"""Which class channels answer at a sign's corners: the heatmap confusion of a model.

A detection's score is the heat of one class channel at its two corners (chapter 8).
When a model cannot tell some classes apart it may find the sign yet spread the heat
over their channels, so that none reaches the score threshold. This measures it: for
every ground-truth sign in a size range, the probability each class channel gives at
its top-left and bottom-right cells (the largest in a 3 x 3 window, as decoding's local
maximum sees it), averaged over the two corners; then the mean over the signs of each
true class. Row c of the result: what the channels say at the corners of class-c signs.
Taught in chapter 9.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from mcn.corners import corner_cells, local_max
from mcn.data import eval_transform
from mcn.evaluate import size_bins
from mcn.experiments.common import load_run, test_scenes


def corner_heat(model: torch.nn.Module, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(num_boxes, num_classes): each class channel's probability at the boxes' corners.

    ``image`` (3, H, W) as the model takes it, ``boxes`` (N, 4) in its pixels.
    """
    with torch.no_grad():
        out = model(image[None])
    tl_heat = local_max(torch.sigmoid(out["tl_heat"]))[0]
    br_heat = local_max(torch.sigmoid(out["br_heat"]))[0]
    height, width = tl_heat.shape[-2:]
    tl, _, br, _ = corner_cells(boxes, model.stride)
    tl_x, tl_y = tl[:, 0].clamp(0, width - 1), tl[:, 1].clamp(0, height - 1)
    br_x, br_y = br[:, 0].clamp(0, width - 1), br[:, 1].clamp(0, height - 1)
    return ((tl_heat[:, tl_y, tl_x] + br_heat[:, br_y, br_x]) / 2).T


def sign_corner_heat(model: torch.nn.Module, scenes: Any,
                     input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every sign of ``scenes``: (long side in scene pixels (N,), label (N,), corner heat
    (N, num_classes)); one forward pass per scene."""
    transform = eval_transform(input_size)
    sides, labels, heats = [], [], []
    model.eval()
    for index in range(len(scenes)):
        item = scenes[index]
        scene_boxes = torch.as_tensor(item[1]["boxes"], dtype=torch.float32)
        if len(scene_boxes) == 0:
            continue
        image, target = transform(*item, rng=np.random.default_rng(index))
        sides.append((scene_boxes[:, 2:] - scene_boxes[:, :2]).amax(dim=1).numpy())
        labels.append(target["labels"].numpy())
        heats.append(corner_heat(model, image, target["boxes"]).double().numpy())
    if not heats:
        return np.zeros(0), np.zeros(0, dtype=int), np.zeros((0, 0))
    return np.concatenate(sides), np.concatenate(labels), np.concatenate(heats)


def confusion_table(sides: np.ndarray, labels: np.ndarray, heat: np.ndarray,
                    classes: Sequence[str], size_range: tuple[float, float]) -> dict[str, Any]:
    """Mean corner heat per (true class, channel) over the signs whose long side is in
    ``size_range``: {"classes", "size_range", "signs": count per true class, "heat": rows
    of per-channel means (None for a class without signs)}."""
    keep = (sides >= size_range[0]) & (sides < size_range[1])
    count = np.bincount(labels[keep], minlength=len(classes))
    rows = [heat[keep & (labels == c)].mean(axis=0).round(4).tolist() if count[c] else None
            for c in range(len(classes))]
    return {"classes": list(classes), "size_range": list(size_range),
            "signs": dict(zip(classes, count.tolist())), "heat": dict(zip(classes, rows))}


def corner_confusion(model: torch.nn.Module, scenes: Any, classes: Sequence[str], input_size: int,
                     size_range: tuple[float, float] = (0.0, float("inf"))) -> dict[str, Any]:
    """``confusion_table`` of the signs of ``scenes`` whose long side (scene pixels) is in
    ``size_range``."""
    return confusion_table(*sign_corner_heat(model, scenes, input_size), classes, size_range)


def corner_confusion_row(checkpoint: Any, num_test: int = 150,
                         device: str | torch.device = "cpu") -> dict[str, Any]:
    """``corner_confusion`` of a trained run on the test scenes, per TT100K size bin (the
    scenes are seen once; the bins split their signs)."""
    model, config, classes, _ = load_run(checkpoint, device)
    signs = sign_corner_heat(model, test_scenes(config, num_test), config.eval_size)
    bins = {name: bounds for name, bounds in size_bins(config.image_size / 512).items()
            if name != "all"}
    return {"variant": config.variant, "checkpoint": str(checkpoint), "scenes": num_test,
            "bins": {name: confusion_table(*signs, classes, bounds)
                     for name, bounds in bins.items()}}
