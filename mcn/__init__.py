"""mcn: Mask-CornerNet (Yang, Fan and Guo, 2020), the package behind the book.

Subpackages and modules, each imported on first use (``import mcn; mcn.nn.corner_pool``)
so that ``import mcn`` stays fast:

* ``mcn.nn``        layers: corner pooling, fire/SGE, hourglass, EM attention, mask module
* ``mcn.models``    the detector, its five variants and two presets
* ``mcn.data``      synthetic and TT100K traffic signs, COCO, transforms, statistics
* ``mcn.targets``   corner heatmaps, offsets, embeddings indices, mask targets
* ``mcn.losses``    focal, pull, push, offset and mask losses
* ``mcn.decode``    corners to boxes
* ``mcn.evaluate``  the TT100K protocol, PR curves, mAP, COCO AP
* ``mcn.train``     the trainer (single process or DDP)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "benchmarks", "checkpoint", "classes", "cli", "data", "decode", "distributed",
    "evaluate", "export", "losses", "models", "nn", "predict", "provenance", "targets",
    "train", "widgets",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"mcn.{name}")
    raise AttributeError(f"module 'mcn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))
