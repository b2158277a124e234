"""The detector and its configuration.

``build_model(variant, num_classes=42, preset="paper")`` builds one of the paper's five
ablation variants; ``ModelConfig`` and the ``paper``/``book``/``tiny`` presets say how big;
``model_size_table()`` lists parameters and megabytes of every variant and preset.

Taught in chapters 3 to 6; the sizes in chapter 4.
"""

from mcn.models.config import BOOK, PAPER, PRESETS, TINY, VARIANTS, ModelConfig, Variant, get_preset, get_variant
from mcn.models.mask_cornernet import HEAD_KEYS, MaskCornerNet, build_model
from mcn.models.size import model_params, model_size_table

__all__ = [
    "HEAD_KEYS",
    "BOOK",
    "PAPER",
    "PRESETS",
    "TINY",
    "VARIANTS",
    "MaskCornerNet",
    "ModelConfig",
    "Variant",
    "build_model",
    "get_preset",
    "get_variant",
    "model_params",
    "model_size_table",
]
