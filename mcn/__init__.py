"""mcn: Mask-CornerNet (Yang, Fan and Guo, 2020), the package behind the book.

Data flows one way through the package, in the order the book teaches it:

* ``mcn.classes``, ``mcn.boxes``  catalogues, class parsing, size bins; box IoU (ch. 2)
* ``mcn.data``        synthetic and TT100K traffic signs, COCO, transforms, the stream (ch. 2, 9)
* ``mcn.nn``          layers: corner pooling, fire/SGE, hourglass, EM attention, mask module (ch. 3-6)
* ``mcn.models``      the detector, its five variants and two size presets (ch. 3-6)
* ``mcn.corners``     corner cells, peaks and pairing rules (ch. 7, 8)
* ``mcn.targets``, ``mcn.losses``   training targets and the five loss terms (ch. 7)
* ``mcn.decode``, ``mcn.multiscale``   corners to boxes, at one input size or several (ch. 8)
* ``mcn.checkpoint``  saving, resuming, loading trained models (ch. 9)
* ``mcn.inference``   detecting a dataset or an image (ch. 8, 10)
* ``mcn.evaluate``    the TT100K protocol, PR curves, mAP, COCO AP (ch. 10)
* ``mcn.train``       the trainer (single process or DDP) (ch. 9)
* ``mcn.experiments`` the paper's tables at book scale (ch. 11)
* ``mcn.viz``         interactive views (ch. 12); ``mcn.cli`` the ``mcn`` command line

Each is imported on first use (``import mcn; mcn.nn.corner_pool``), so that ``import
mcn`` stays fast. Each module's docstring names the chapter that teaches it.

``mcn.pretrained(variant, preset)`` loads a trained model the package ships, with its
class names (``mcn.checkpoint.pretrained``; README.md, "Use the package").
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
    "benchmarks", "boxes", "checkpoint", "classes", "cli", "corners", "data", "decode",
    "evaluate", "experiments", "export", "figures", "inference", "losses", "mask_quality",
    "models", "multiscale", "nn", "predict", "provenance", "targets", "train", "viz",
    "widgets",
)


#: functions offered at the top level, each from the module that defines it
_FUNCTIONS = {"pretrained": "checkpoint"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"mcn.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f"mcn.{_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module 'mcn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES) + list(_FUNCTIONS))
