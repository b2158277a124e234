"""Random generators of the data pipeline: one per item, fixed by (seed, epoch, key).

Augmentation draws all its randomness from a NumPy Generator handed to each transform,
so an item is a pure function of its seed, epoch and index, whichever process or
DataLoader worker makes it. Taught in chapter 2 (augmentation) and chapter 9 (the
training stream).
"""

from __future__ import annotations

import zlib
from typing import Any, Mapping

import numpy as np
import torch


def item_rng(key: Any = None, seed: int = 0, epoch: int = 0) -> np.random.Generator:
    """A numpy Generator fixed by (seed, epoch, key); ``key`` is an index or image id.

    Uses a CRC of ``str(key)`` (not Python's ``hash``, which changes between runs).
    """
    return np.random.default_rng([int(seed), int(epoch), zlib.crc32(str(key).encode())])


def numpy_rng(rng: Any, target: Mapping[str, Any]) -> np.random.Generator:
    """``rng`` as a NumPy Generator; None derives one from the target's "image_id"."""
    if rng is None:
        return item_rng(target.get("image_id"))
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=rng)))
    raise TypeError(f"rng should be a numpy or torch Generator, got {type(rng).__name__}")
