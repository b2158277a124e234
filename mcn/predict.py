"""Loading and running a trained model under their first name, ``mcn.predict``.

The pieces live where their concept does: ``load_model``, ``pretrained`` and
``shipped_checkpoint`` in ``mcn.checkpoint``, ``detect_dataset``, ``detect_by_size`` and ``predict_image`` in
``mcn.inference``; this module lists them again so that older notebooks keep working.
Taught in chapter 8.
"""

from mcn.checkpoint import (DEFAULT_PRESET, WEIGHTS, Pretrained, load_model, pretrained,
                            pretrained_path, shipped_checkpoint, shipped_weights)
from mcn.inference import detect_by_size, detect_dataset, predict_image

__all__ = ["DEFAULT_PRESET", "WEIGHTS", "Pretrained", "detect_by_size", "detect_dataset",
           "load_model", "predict_image", "pretrained", "pretrained_path", "shipped_checkpoint",
           "shipped_weights"]
