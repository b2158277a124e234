"""Collation: images stacked, targets kept as a list, clear errors."""

from __future__ import annotations

import pytest
import torch

from mcn.data.collate import collate
from mcn.data.transforms import eval_transform
from tests.data.drawn_scene import scene


def test_collate_stacks_images_and_lists_targets():
    image, target = scene()
    batch = [eval_transform(64)(image, target), eval_transform(64)(image, target)]
    images, targets = collate(batch)
    assert images.shape == (2, 3, 64, 64) and isinstance(targets, list) and len(targets) == 2
    assert targets[1] is batch[1][1]
    with pytest.raises(ValueError, match="shape"):
        collate([batch[0], (torch.zeros(3, 32, 32), {})])
    with pytest.raises(ValueError, match="empty"):
        collate([])
