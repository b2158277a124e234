"""How big each variant is: parameter counts and megabytes, measured and analytic.

The paper reports 112.8 MB for Mask-CornerNet (Table 3, no unit convention given; we
read it as the size of a float32 checkpoint). ``model_size_table`` builds every variant
on PyTorch's "meta" device (shapes only, no memory, no initialisation time) and
counts; ``model_params`` gives the same count from the per-module formulas in
``mcn.nn``, so the book can show where the weights are.

Columns: ``params`` (learnable parameters), ``buffers`` (BatchNorm statistics and the
EM bases: saved, not learned), ``fp32_mb`` = 4 bytes x params / 10^6, and
``checkpoint_mib`` = 4 bytes x (params + floating buffers) / 2^20, about what a saved
float32 ``state_dict`` weighs on disk as ``ls -lh`` shows it.

Taught in chapter 4; the sizes come back in chapter 11.
"""

from __future__ import annotations

import torch

from mcn.models.config import PRESETS, VARIANTS, ModelConfig, get_preset, get_variant
from mcn.models.mask_cornernet import build_model
from mcn.nn import (
    conv_bn_params,
    corner_heads_params,
    corner_pool_params,
    hourglass_params,
    mask_module_params,
    residual_params,
    stem_params,
)


def model_params(variant: str, num_classes: int = 42, preset: str | ModelConfig = "paper") -> dict[str, int]:
    """Analytic parameter count of ``build_model(variant, num_classes, preset)``, by part.

    Returns a dict: stem, hourglasses, after_hourglass, mask_modules, merges, corner_pools,
    heads and total.
    """
    config = preset if isinstance(preset, ModelConfig) else get_preset(preset)
    flags = get_variant(variant)
    c = config.scale
    dims = [c(d) for d in config.dims]
    feat, stacks = c(config.feature_channels), config.stacks
    sge = config.sge_groups if flags.sge_fire else None
    parts = {
        "stem": stem_params((c(config.stem_channels), dims[0]), stride=config.stem_stride),
        "hourglasses": stacks * hourglass_params(dims, config.modules, sge),
        "after_hourglass": stacks * conv_bn_params(dims[0], feat, 3),
        "mask_modules": stacks * mask_module_params(feat, num_classes, c(config.mask_channels), config.mask_groups)
        if flags.mask
        else 0,
        "merges": (stacks - 1)
        * (conv_bn_params(dims[0], dims[0], 1) + conv_bn_params(feat, dims[0], 1) + residual_params(dims[0], dims[0])),
        "corner_pools": stacks * 2 * corner_pool_params(feat, c(config.pool_channels)),
        "heads": stacks * 2 * corner_heads_params(feat, c(config.head_channels), num_classes),
    }
    parts["total"] = sum(parts.values())
    return parts


def model_size_table(num_classes: int = 42, presets: tuple[str, ...] = tuple(PRESETS)) -> list[dict]:
    """One row per (variant, preset): params, buffers, fp32_mb, checkpoint_mib.

    ``pandas.DataFrame(model_size_table())`` makes it a table.
    """
    rows = []
    for preset in presets:
        for variant in VARIANTS:
            with torch.device("meta"):
                model = build_model(variant, num_classes=num_classes, preset=preset)
            params = sum(p.numel() for p in model.parameters())
            float_buffers = sum(b.numel() for b in model.buffers() if b.is_floating_point())
            rows.append(
                {
                    "variant": variant,
                    "preset": preset,
                    "input_size": model.input_size,
                    "params": params,
                    "buffers": sum(b.numel() for b in model.buffers()),
                    "fp32_mb": round(4 * params / 1e6, 2),
                    "checkpoint_mib": round(4 * (params + float_buffers) / 2**20, 2),
                }
            )
    return rows
