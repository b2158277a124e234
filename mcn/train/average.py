"""Averaging the weights a run passed through (stochastic weight averaging).

Izmailov, Podoprikhin, Garipov, Vetrov and Wilson, "Averaging Weights Leads to Wider
Optima and Better Generalization" (UAI 2018): at a constant learning rate the weights
keep moving around a wide region of low loss without settling in it; the element-wise
mean of the weights saved along the way lies nearer its middle than any one of them and
often generalises better. Zhang, Wang, Dayoub and Sünderhauf ("SWA Object Detection",
2020) train finished detectors for 12 more epochs at a cyclical learning rate and
average the 12 checkpoints: about one point of COCO AP more, at no cost at inference.

The running statistics of batch normalisation are not weights: the mean of the saved
statistics is not the statistics of the averaged network. They are measured again, as
an equal-weight mean over training batches passed through the averaged network in
training mode, as PyTorch's ``torch.optim.swa_utils.update_bn`` does; unlike it, the
model's other buffers (the EM bases of the mask module, ``mcn.nn.em_attention``), which
a training-mode forward also moves, keep their average. Taught in chapter 9; ``mcn average``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

from mcn.checkpoint import (INFERENCE_KEYS, CheckpointError, load_checkpoint,
                            model_from_state, save_checkpoint)
from mcn.data.sources import build_dataset, parse_data_spec
from mcn.data.stream import make_train_loader
from mcn.train.config import TrainConfig
from mcn.train.distributed import DistInfo
from mcn.train.keep import kept_checkpoints

__all__ = ["average_weights", "recompute_batch_norm", "average_checkpoints", "checkpoints_to_average"]

#: The checkpoint entries that must agree for weights to be averaged.
SAME_MODEL_KEYS = ("variant", "num_classes", "classes", "model_config")

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def average_weights(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of model state dicts with the same keys and shapes.

    Floating-point tensors are averaged (summed in float64); others (counters such as
    batch norm's ``num_batches_tracked``) are taken from the last state.
    """
    if not states:
        raise ValueError("average_weights: no states to average")
    keys = list(states[-1])
    for i, state in enumerate(states):
        if list(state) != keys:
            raise ValueError(f"average_weights: state {i} has other entries than the last")
    averaged = {}
    for key in keys:
        last = states[-1][key]
        if not last.is_floating_point():
            averaged[key] = last.clone()
            continue
        total = sum(state[key].to(torch.float64) for state in states)
        averaged[key] = (total / len(states)).to(last.dtype)
    return averaged


def recompute_batch_norm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Measure every batch norm's running mean and variance again on ``batches``.

    Each batch (B, 3, S, S) goes through ``model`` in training mode without gradients;
    the statistics become the equal-weight mean over the batches (momentum None). Every
    other buffer is put back as it was. The model is left in eval mode. Returns the
    number of batches seen.
    """
    norms = [m for m in model.modules() if isinstance(m, _BATCH_NORMS)]
    statistics = {id(t) for m in norms for t in (m.running_mean, m.running_var, m.num_batches_tracked)}
    others = {name: b.clone() for name, b in model.named_buffers() if id(b) not in statistics}
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative mean over the batches
    model.train()
    seen = 0
    with torch.no_grad():
        for images in batches:
            model(images)
            seen += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    if seen == 0:
        raise ValueError("recompute_batch_norm: no batches to measure the statistics on")
    buffers = dict(model.named_buffers())
    for name, value in others.items():  # e.g. the EM bases the training forward moved
        buffers[name].copy_(value)
    model.eval()
    return seen


def checkpoints_to_average(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The files named: a run folder stands for the checkpoints ``--keep`` kept in it
    (``iter-NNNNNN.pt``, oldest first). FileNotFoundError names what is missing."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            kept = list(kept_checkpoints(path).values())
            if not kept:
                raise FileNotFoundError(f"{path}: no iter-NNNNNN.pt checkpoints (train with --keep N)")
            found += kept
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"checkpoint {path} does not exist")
    return found


def _check_same_model(states: Sequence[Mapping[str, Any]], paths: Sequence[Path]) -> None:
    for key in SAME_MODEL_KEYS:
        first = states[0].get(key)
        for state, path in zip(states[1:], paths[1:]):
            if state.get(key) != first:
                raise CheckpointError(f"{path} differs from {paths[0]} in {key} "
                                      f"({state.get(key)!r} against {first!r}): only "
                                      "checkpoints of one model can be averaged")


def _training_images(state: Mapping[str, Any], num_batches: int) -> Iterable[torch.Tensor]:
    """``num_batches`` image batches of the run's own training stream (its data, classes,
    input size and augmentation), from the step after the checkpoint."""
    start = int(state["iteration"])
    # The stream ends at the run's last step: lengthen it by the batches wanted.
    config = dataclasses.replace(TrainConfig.from_dict(state["config"]), num_workers=0,
                                 iters=start + num_batches)
    dataset = build_dataset(parse_data_spec(state.get("data") or "synth"), config, "train")
    for images, _ in make_train_loader(dataset, config, DistInfo(), start):
        yield images


def average_checkpoints(paths: Sequence[str | os.PathLike], destination: str | os.PathLike,
                        bn_batches: int = 100) -> Path:
    """Average the weights of ``paths`` (files, or run folders of ``--keep`` checkpoints),
    measure batch norm again on ``bn_batches`` training batches, and save the result as
    an inference-only checkpoint at ``destination``, which must not exist yet.

    The new file carries the newest checkpoint's config, classes and iteration, and an
    "averaged" entry naming the files and iterations averaged.
    """
    if bn_batches < 1:
        raise ValueError(f"bn_batches must be >= 1, got {bn_batches}")
    destination = Path(destination)
    if destination.exists():  # never over a checkpoint, least of all one being averaged
        raise FileExistsError(f"{destination} already exists; choose another name or remove it")
    files = checkpoints_to_average(paths)
    loaded = sorted(((load_checkpoint(f), f) for f in files), key=lambda sf: int(sf[0]["iteration"]))
    states, files = [s for s, _ in loaded], [f for _, f in loaded]
    _check_same_model(states, files)
    newest = states[-1]
    averaged = {**newest, "model": average_weights([s["model"] for s in states])}
    model = model_from_state(averaged, f"the average of {len(files)} checkpoints")
    seen = recompute_batch_norm(model, _training_images(newest, bn_batches))
    result = {k: newest[k] for k in INFERENCE_KEYS if k in newest}
    result["model"] = model.state_dict()
    result["averaged"] = {"checkpoints": [str(f) for f in files],
                          "iterations": [int(s["iteration"]) for s in states],
                          "bn_batches": seen}
    return save_checkpoint(destination, result)
