"""Where a model loses what tells some classes apart: linear probes of its features.

The corner-confusion experiment shows that the book models find a speed limit but not
which one. Is the difference (the digits) gone from the features, and where? For every
sign of the probed classes this takes a fixed-length description of the sign at several
depths: its pixels (resized to 4 x 4, 8 x 8 and 12 x 12: the control, and what a
coarser grid keeps), and the stem's and each stack's features resampled to a 6 x 6
grid over the box's cells (a 16-pixel sign covers 4 x 4 cells at stride 4). A linear classifier
(multinomial logistic regression) is fitted on the first half of the signs and scored on
the second: accuracy near chance at some depth means the network has already discarded
what a linear read-out of the pixels still finds. Taught in chapter 9.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mcn.data import eval_transform
from mcn.data.synthetic import SyntheticSigns
from mcn.evaluate import size_bins
from mcn.experiments.common import load_run

#: The four speed limits of the book's ten classes: alike but for their digits.
SPEED_LIMITS = ("pl40", "pl50", "pl80", "pl60")
#: Scene stream of the probe: neither training (even seeds), validation nor the tests.
PROBE_SEED = 4242
PIXEL_SIDES = (4, 8, 12)  # the pixel controls: each sign resized to these squares
GRID = 6  # feature maps: the box's cells resampled to a 6 x 6 grid


def box_grid(feature_map: torch.Tensor, box: torch.Tensor, stride: int, side: int) -> torch.Tensor:
    """(C * side * side,): ``feature_map`` (C, H, W) over ``box`` (4,) xyxy input pixels,
    averaged (or interpolated, for a box of fewer cells) into a side x side grid."""
    height, width = feature_map.shape[-2:]
    x0, y0 = int(box[0] // stride), int(box[1] // stride)
    x1, y1 = int(torch.ceil(box[2] / stride)), int(torch.ceil(box[3] / stride))
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    x1, y1 = min(max(x1, x0 + 1), width), min(max(y1, y0 + 1), height)
    patch = feature_map[None, :, y0:y1, x0:x1]
    return F.interpolate(patch, size=(side, side), mode="area" if min(patch.shape[-2:]) >= side
                         else "bilinear", align_corners=None).flatten()


def sign_features(model: torch.nn.Module, scenes: SyntheticSigns, input_size: int,
                  probed: Sequence[int]) -> dict[str, Any]:
    """Every sign of ``scenes`` whose label is in ``probed``: {"features": {depth: (N, D)},
    "labels": (N,) index into ``probed``, "sides": (N,) long side in scene pixels}.

    Depths: "pixels-4", "pixels-8", "pixels-12", "stem", "stack-1" ... "stack-S" (each
    stack's features after its mask module, as the heads read them)."""
    transform = eval_transform(input_size)
    features: dict[str, list[np.ndarray]] = {}
    labels, sides = [], []
    model.eval()
    for index in range(len(scenes)):
        item = scenes[index]
        image, target = transform(*item, rng=np.random.default_rng(index))
        keep = [j for j, label in enumerate(target["labels"].tolist()) if label in probed]
        if not keep:
            continue
        stem = {}  # the stem's output, caught as the backbone runs
        hook = model.stem.register_forward_hook(lambda module, inputs, out: stem.update(out=out))
        try:
            with torch.no_grad():
                stacks, _ = model.backbone(image[None])
        finally:
            hook.remove()
        maps = {f"pixels-{side}": (image, 1, side) for side in PIXEL_SIDES}
        maps["stem"] = (stem["out"][0], model.stride, GRID)
        maps.update({f"stack-{s + 1}": (f[0], model.stride, GRID) for s, f in enumerate(stacks)})
        scene_boxes = torch.as_tensor(item[1]["boxes"], dtype=torch.float32)
        for j in keep:
            box = target["boxes"][j]
            for depth, (fmap, stride, side) in maps.items():
                features.setdefault(depth, []).append(box_grid(fmap, box, stride, side).numpy())
            labels.append(list(probed).index(int(target["labels"][j])))
            sides.append(float((scene_boxes[j, 2:] - scene_boxes[j, :2]).max()))
    return {"features": {d: np.stack(v) for d, v in features.items()},
            "labels": np.array(labels, dtype=np.int64), "sides": np.array(sides)}


def linear_probe(features: np.ndarray, labels: np.ndarray, num_classes: int,
                 weight_decay: float = 1e-3) -> np.ndarray:
    """Fit a multinomial logistic regression on the first half of (N, D) ``features``;
    returns (N - N // 2,) bool: whether each sign of the second half is classified
    right. Features are standardised with the first half's mean and spread."""
    half = len(labels) // 2
    x = torch.as_tensor(features, dtype=torch.float64)
    x = (x - x[:half].mean(0)) / (x[:half].std(0) + 1e-6)
    y = torch.as_tensor(labels)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], num_classes).double()
    optimiser = torch.optim.LBFGS(linear.parameters(), max_iter=300, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = F.cross_entropy(linear(x[:half]), y[:half]) + weight_decay * linear.weight.pow(2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    with torch.no_grad():
        return (linear(x[half:]).argmax(1) == y[half:]).numpy()


def accuracy_by_bin(right: np.ndarray, sides: np.ndarray,
                    bins: dict[str, tuple[float, float]]) -> dict[str, float | None]:
    """The share of ``right`` (N,) bool among the signs of each size bin (None: no sign)."""
    shares = {}
    for name, (low, high) in bins.items():
        inside = (sides >= low) & (sides < high)
        shares[name] = round(float(right[inside].mean()), 3) if inside.any() else None
    return shares


def probe_table(signs: dict[str, Any], num_classes: int,
                bins: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Held-out accuracy of each depth's probe, over all signs and per size bin."""
    held_out_sides = signs["sides"][len(signs["labels"]) // 2:]
    return {depth: accuracy_by_bin(linear_probe(features, signs["labels"], num_classes),
                                   held_out_sides, bins)
            for depth, features in signs["features"].items()}


def feature_probe_row(checkpoint: Any, num_scenes: int = 300, probed: Sequence[str] = SPEED_LIMITS,
                      device: str | torch.device = "cpu") -> dict[str, Any]:
    """The probes of a trained run on ``num_scenes`` scenes (every class alike, the probed
    ones three times as often, six signs a scene), per TT100K size bin. "chance": the
    share of the most frequent probed class (what always guessing it scores)."""
    model, config, classes, _ = load_run(checkpoint, device)
    missing = [name for name in probed if name not in classes]
    if missing:
        raise ValueError(f"{checkpoint}: no class {', '.join(missing)} to probe; the model's "
                         f"classes: {', '.join(classes)}")
    scenes = SyntheticSigns(num_scenes, config.image_size, PROBE_SEED, classes, "uniform",
                            signs_per_image=6.0, oversample={name: 3.0 for name in probed})
    signs = sign_features(model.cpu(), scenes, config.eval_size, [classes.index(n) for n in probed])
    counts = np.bincount(signs["labels"], minlength=len(probed))
    return {"variant": config.variant, "checkpoint": str(checkpoint), "scenes": num_scenes,
            "seed": PROBE_SEED, "classes": list(probed), "signs": dict(zip(probed, counts.tolist())),
            "chance": round(float(counts.max() / max(counts.sum(), 1)), 3),
            "accuracy": probe_table(signs, len(probed), size_bins(config.image_size / 512))}
