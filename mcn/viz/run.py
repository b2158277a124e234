"""One image through a model, everything the views draw from.

``run_model`` letterboxes a dataset item, runs every hourglass stack of the model (the
two supervised stacks of CornerNet-Squeeze and Mask-CornerNet, Yang, Fan and Guo 2020)
and keeps the input of each mask module's EM unit; ``RunCache`` keeps the last few runs
so that a slider other than the image redraws without running the network again.
Taught in chapter 12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from mcn.data.transforms import denormalize, eval_transform


@dataclass
class ModelRun:
    """One image passed through a model, everything the views draw from (CPU tensors).

    image: (S, S, 3) uint8, the letterboxed input as the model saw it (S = input size);
    target: the ground truth moved to input pixels ("boxes" (N, 4), "labels", "masks");
    stacks: ``model.forward_stacks(x, last_only=False)``, one output dict per stack;
    emau_inputs: per stack, the (1, M, S/2, S/2) input of the mask module's EM unit
    (empty for variants without the mask module);
    pool_inputs: per entry of ``stacks``, the (1, D, S/4, S/4) features its corner
    pooling modules read (with fusion the last entry's are the summed features).
    """

    image: np.ndarray
    target: dict[str, Any]
    stacks: list[dict[str, torch.Tensor]]
    emau_inputs: list[torch.Tensor]
    pool_inputs: list[torch.Tensor] = field(default_factory=list)


def stack_names(model: torch.nn.Module) -> list[str]:
    """A name for each entry of ``forward_stacks``: "stack 1", ...; with fusion the last
    entry is the heads' output on the summed features of all stacks, called "fused"."""
    count = len(model.hourglasses)
    names = [f"stack {s + 1}" for s in range(count)]
    if getattr(model, "fusion", False) and count > 1:
        names[-1] = f"fused (stacks 1-{count} summed)"
    return names


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's parameters."""
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
    # Forward pre-hooks keep the input of each EM unit and of each TL corner pooling
    # module: what em_steps and the trained corner-pooling view need later.
    captured: dict[int, torch.Tensor] = {}
    pooled: dict[int, torch.Tensor] = {}

    def keeper(store: dict[int, torch.Tensor], stack: int) -> Callable:
        def keep_input(_module: torch.nn.Module, args: tuple) -> None:
            store[stack] = args[0].detach().float().cpu()
        return keep_input

    mask_modules = model.mask_modules if model.has_mask else []
    hooks = [module.emau.register_forward_pre_hook(keeper(captured, s))
             for s, module in enumerate(mask_modules)]
    hooks += [pool.register_forward_pre_hook(keeper(pooled, s))
              for s, pool in enumerate(model.tl_pools)]
    was_training = model.training
    model.eval()
    try:
        stacks = model.forward_stacks(x[None].to(model_device(model)), last_only=False)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    stacks = [{key: value.detach().float().cpu() for key, value in out.items()} for out in stacks]
    display = denormalize(x).permute(1, 2, 0).numpy()
    return ModelRun(display, moved, stacks, [captured[s] for s in sorted(captured)],
                    [pooled[s] for s in sorted(pooled)])


class RunCache:
    """The last few runs (``ModelRun`` each) of one model and dataset, so that moving a slider other
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


def largest_sign(dataset: Any) -> tuple[int, torch.Tensor | None]:
    """(index, box (4,) xyxy) of the largest annotated sign by area among the dataset's
    images, where a view has most to show; (0, None) when no image has a sign."""
    best = (-1.0, 0, None)
    for index in range(len(dataset)):
        boxes = dataset[index][1]["boxes"]
        if len(boxes):
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            if float(areas.max()) > best[0]:
                best = (float(areas.max()), index, boxes[int(areas.argmax())])
    return best[1], best[2]


def class_names(model: torch.nn.Module, dataset: Any) -> list[str]:
    """The dataset's class names, checked against the model's heatmap channels."""
    names = getattr(dataset, "classes", None)
    if names is None:
        return [str(c) for c in range(model.num_classes)]
    if len(names) != model.num_classes:
        raise ValueError(f"dataset has {len(names)} classes but the model has "
                         f"{model.num_classes} heatmap channels; build the model with "
                         f"num_classes={len(names)} or pass a matching dataset")
    return list(names)
