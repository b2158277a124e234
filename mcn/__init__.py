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
* ``mcn.predict``   load a checkpoint, detect, draw

``mcn.pretrained(variant, preset)`` loads a trained model the package ships, with its
class names (``mcn.predict.pretrained``; README.md, "Use the package").
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("mcn")  # the installed distribution's, from pyproject.toml
except PackageNotFoundError:  # imported from a folder without installing it
    __version__ = "unknown"

_SUBMODULES = (
    "benchmarks", "checkpoint", "classes", "cli", "data", "decode", "distributed",
    "evaluate", "export", "losses", "models", "nn", "predict", "provenance", "targets",
    "train", "widgets",
)


#: functions offered at the top level, each from the module that defines it
_FUNCTIONS = {"pretrained": "predict"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"mcn.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f"mcn.{_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module 'mcn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES) + list(_FUNCTIONS))
