"""The tiny recipe cut down to seconds, for the tests of the trainer and its data."""

from __future__ import annotations

from mcn.classes import top_classes
from mcn.train import TrainConfig, get_config


def small_config(**changes) -> TrainConfig:
    """The tiny preset cut down to seconds: 64-pixel inputs, batch 2, a few iterations."""
    fields = dict(input_size=64, image_size=128, batch_size=2, iters=4, train_images=6,
                  val_images=0, num_workers=0, ckpt_every=2, classes=top_classes(3),
                  warmup_iters=2, augment=True)
    fields.update(changes)
    return get_config("tiny", **fields)


def blow_up_loss(monkeypatch, at_call: int, factor: float) -> None:
    """Make the trainer's ``detection_loss`` multiply the total loss by ``factor`` on its
    ``at_call``-th call (a NaN or an exploding loss on demand)."""
    import mcn.train.loop as loop

    real_loss, calls = loop.detection_loss, {"n": 0}

    def exploding(outputs, targets, weights):
        calls["n"] += 1
        losses = real_loss(outputs, targets, weights)
        if calls["n"] == at_call:
            losses["total"] = losses["total"] * factor
        return losses

    monkeypatch.setattr(loop, "detection_loss", exploding)
