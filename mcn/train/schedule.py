"""The optimiser and its learning-rate schedule: Adam, a linear warm-up, step or cosine decay.

Mask-CornerNet (Yang, Fan and Guo, 2020) trains with Adam at 2.5e-4, multiplied by 0.1
every 180 000 iterations, and no warm-up; ``TrainConfig`` can add a linear warm-up and
swap the steps for a cosine. ``build_training`` builds the model, the optimiser and
the schedule of a configuration. Taught in chapter 9.
"""

from __future__ import annotations

import math

import torch

from mcn.models import ModelConfig, build_model
from mcn.train.config import TrainConfig


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """lr multiplier at optimiser step ``step``: linear warm-up, then step or cosine decay."""
    if config.lr_schedule == "cosine":
        progress = min(1.0, step / config.iters)
        factor = 0.5 * (1 + math.cos(math.pi * progress))
    else:
        factor = config.decay_factor ** (step // config.decay_every)
    if config.warmup_iters and step < config.warmup_iters:
        factor *= 0.01 + 0.99 * step / config.warmup_iters
    return factor


def build_training(config: TrainConfig, num_classes: int, device: torch.device,
                   model_config: ModelConfig | None = None):
    """Model (on ``device``), Adam and the LambdaLR schedule for ``config``.

    ``model_config`` overrides the sizes of ``config.model_preset`` (a resumed run
    rebuilds exactly the network its checkpoint describes, even if the preset changed).
    """
    sizes = model_config or config.model_config
    for name in ("input_size", "eval_input_size"):
        if getattr(config, name) and getattr(config, name) % sizes.input_multiple:
            raise ValueError(f"TrainConfig.{name}={getattr(config, name)} must be a multiple of "
                             f"{sizes.input_multiple} (the model's input_multiple)")
    # Predict, export and the views run a model at its own input side: the run's.
    model = build_model(config.variant, num_classes, sizes.replace(input_size=config.eval_size))
    model.to(device)
    if config.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    # The fused kernel updates all of Adam's tensors in one call: the tiny model has
    # about 700 small ones, and the per-tensor loop cost 40 ms of a 360 ms CPU step.
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(params, lr=config.lr, fused=fused)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, config))
    return model, optimizer, scheduler


def change_base_lr(optimizer: torch.optim.Optimizer, scheduler, lr: float,
                   config: TrainConfig, step: int) -> None:
    """A resumed run's new learning rate: the schedule goes on from ``step`` at base ``lr``."""
    scheduler.base_lrs = [lr for _ in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["initial_lr"] = lr
        group["lr"] = lr * learning_rate_factor(step, config)
