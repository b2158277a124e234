"""Batching detection items: images stacked into one tensor, targets kept as a list.

Detection targets have a different number of objects per image, so they cannot be
stacked; like torchvision's detection references, a batch is (images, list of targets).

Taught in chapter 2.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


def collate(batch: Sequence[tuple[torch.Tensor, dict[str, Any]]]
            ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """Stack images (3, H, W) into (B, 3, H, W); return the target dicts in a list.

    All images must have one shape: resize them first (``mcn.data.transforms``'s
    ``train_transform`` / ``eval_transform``). Use as ``DataLoader(collate_fn=collate)``.
    """
    if len(batch) == 0:
        raise ValueError("collate got an empty batch")
    images, targets = [], []
    for i, item in enumerate(batch):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"batch item {i} should be an (image, target) pair, got "
                            f"{type(item).__name__}")
        image, target = item
        if image.shape != batch[0][0].shape:
            raise ValueError(
                f"image {i} of the batch has shape {tuple(image.shape)} but image 0 has "
                f"{tuple(batch[0][0].shape)}; resize to one input size first (e.g. "
                f"mcn.data.transforms.eval_transform(input_size))")
        images.append(image)
        targets.append(target)
    return torch.stack(images), targets
