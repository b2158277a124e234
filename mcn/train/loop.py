"""Training Mask-CornerNet: the loop, from top to bottom.

The recipe is the paper's (Yang, Fan and Guo, "Anchor-free object detection with mask
attention", EURASIP J. Image Video Process. 2020): the loss of ``mcn.losses`` averaged
over the two supervised hourglass stacks, Adam and its schedule (``mcn.train.schedule``),
as ``mcn.train.config`` says. ``train`` runs it:

1. join the process group when started by torchrun (``mcn.train.distributed``), seed
   everything, build the datasets from a data spec ("synth", "tt100k:ROOT",
   "coco:ANN.json[:IMAGE_DIR]", ``mcn.data.sources``), the model, Adam and the schedule;
2. resume from ``OUT/last.pt`` (or a given checkpoint) when asked (``mcn.train.resume``);
3. for each iteration: ``accum_steps`` micro-batches of augmented images from the
   stateless stream (``mcn.data.stream``), the targets (``mcn.targets.build_targets``),
   the forward pass (the EM-attention bases of the mask module update themselves here,
   all-reduced across processes), the loss terms (``mcn.losses.detection_loss``), a
   finiteness check, backward, optional clipping, the Adam step and the schedule step;
4. rank 0 logs every term and the learning rate to ``OUT/log.jsonl`` (``mcn.train.log``),
   saves ``OUT/last.pt`` every ``ckpt_every`` iterations (and keeps the last ``keep``
   as ``OUT/iter-NNNNNN.pt``, ``mcn.train.keep``), and every ``eval_every``
   iterations scores the validation set with the TT100K protocol
   (``mcn.train.validation``), logging to ``OUT/val.jsonl`` and keeping ``OUT/best.pt``.

Taught in chapter 9.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from mcn.checkpoint import (load_weights, nonfinite_tensors, rng_state, save_checkpoint,
                            set_rng_state, stored_model_config)
from mcn.data.sources import (DataSpec, build_dataset, dataset_classes, first_items,
                              parse_data_spec, size_bin_scale, skipped_images)
from mcn.data.stream import make_train_loader
from mcn.losses import LOSS_TERMS, LossWeights, detection_loss
from mcn.provenance import provenance, write_json
from mcn.targets import build_targets
from mcn.train import distributed
from mcn.train.config import TrainConfig
from mcn.train.guard import LossGuard, TrainingDiverged, diverged
from mcn.train.keep import save_kept
from mcn.train.log import truncate_log
from mcn.train.resume import initial_weights, resume_checkpoint, resume_state
from mcn.train.schedule import build_training, change_base_lr
from mcn.train.validation import mask_module_summary, validation_metrics


@dataclass
class TrainResult:
    """What ``train`` returns: the trained model (unwrapped, on its device) and a summary
    (iterations, seconds, last losses, last validation, world size)."""

    model: torch.nn.Module
    summary: dict[str, Any]
    out_dir: Path


def train(
    config: TrainConfig,
    data: str | DataSpec = "synth",
    out_dir: str | os.PathLike = "runs/tiny",
    device: str | torch.device = "auto",
    resume: bool | str | os.PathLike = False,
    progress: bool = True,
    resume_overrides: Collection[str] = (),
    skip_bad: bool = False,
) -> TrainResult:
    """Train a model as ``config`` says on ``data``; write the run into ``out_dir``.

    Files (rank 0 only): ``config.json`` (with provenance), ``log.jsonl`` (one line
    per iteration: iter, lr, det, pull, push, off, mask, total, seconds), ``val.jsonl``,
    ``last.pt``, ``best.pt`` (when validating) and ``summary.json`` (iterations, wall
    and CPU seconds, last losses and validation).

    Raises FileExistsError when ``out_dir`` already holds a run and ``resume`` is
    False, FileNotFoundError for missing data, ``CheckpointError`` when resuming from a
    checkpoint of another model, ``TrainingDiverged`` when a loss term becomes
    non-finite or explodes, or the weights become non-finite (nothing is saved after
    that; the last finite checkpoint stays and the message names it).

    ``resume``: True continues from ``OUT/last.pt``, a path from that checkpoint.
    ``resume_overrides``: names of ``mcn.train.resume.RESUME_MAY_OVERRIDE`` (lr,
    grad_clip, keep) that the resumed run takes from ``config`` (recorded in config.json).
    ``skip_bad``: leave out (and count in summary.json) the TT100K or COCO images that
    are missing or cannot be decoded. ``progress``: bars for training and validation.
    """
    info, device = distributed.setup(device)
    try:
        return _train(config, data, Path(out_dir), device, info, resume, progress,
                      resume_overrides, skip_bad)
    finally:
        distributed.cleanup()


def _train(config: TrainConfig, data: str | DataSpec, out_dir: Path, device: torch.device,
           info: distributed.DistInfo, resume: bool | str | os.PathLike, progress: bool,
           resume_overrides: Collection[str], skip_bad: bool) -> TrainResult:
    spec = parse_data_spec(data)
    run, train_set, start = _setup_run(config, spec, out_dir, device, info, resume,
                                       resume_overrides, skip_bad)
    config = run.config  # resuming restores the run's own configuration
    run.progress = progress and info.is_main
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        truncate_log(out_dir / "log.jsonl", start)
        truncate_log(out_dir / "val.jsonl", start)
        write_json(out_dir / "config.json", {
            "provenance": provenance(config, config.seed, device, data=str(spec),
                                     world_size=info.world_size, resumed_from=start or None,
                                     resumed_checkpoint=(str(run.resumed_from[0])
                                                         if run.resumed_from else None),
                                     resume_changes=run.resume_changes or None),
            "config": config.to_dict(), "classes": list(run.classes)})
    run.model.train()
    batches = iter(make_train_loader(train_set, config, info, start))
    log_file = open(out_dir / "log.jsonl", "a") if info.is_main else None
    bar = None
    if info.is_main and progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.iters, initial=start, desc=f"train {config.variant}",
                   dynamic_ncols=True)
    began, cpu_began = time.perf_counter(), time.process_time()
    workers_cpu_began = _finished_children_cpu_seconds()
    losses: dict[str, float] = {}
    validation, done = None, start
    try:
        for step in range(start, config.iters):
            lr = run.optimizer.param_groups[0]["lr"]
            losses = _train_step(run, batches, step)
            done = step + 1
            if info.is_main:
                seconds = round(time.perf_counter() - began, 3)
                log_file.write(json.dumps({"iter": done, "lr": lr, **losses, "seconds": seconds}) + "\n")
                log_file.flush()
                if bar is not None:
                    bar.update(1)
                    if done % config.log_every == 0 or done == config.iters:
                        bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            if done == config.iters or _out_of_time(config, began):
                break
            if config.eval_every and done % config.eval_every == 0:
                validation = run.validate(done)
            if done % config.ckpt_every == 0:
                run.save(done)
        # Dropping the iterator joins the loader's workers, so their CPU time is counted.
        del batches
        workers_cpu = _finished_children_cpu_seconds() - workers_cpu_began
        # The end of the run: final validation and checkpoint.
        if config.val_images > 0:
            validation = run.validate(done)
        run.save(done)
    finally:
        if bar is not None:
            bar.close()
        if log_file is not None:
            log_file.close()
    summary = {
        "iterations": done, "resumed_from": start,
        "seconds": round(time.perf_counter() - began, 2),
        # CPU time of this process (all its threads, validation included) and, apart,
        # of the DataLoader workers that made the training batches
        "cpu_seconds": round(time.process_time() - cpu_began, 2),
        "cpu_seconds_data_workers": round(workers_cpu, 2),
        "last_losses": losses, "validation": validation, "world_size": info.world_size,
        "skipped_images": skipped_images(train_set) + skipped_images(run.val_set),
    }
    if info.is_main:
        write_json(out_dir / "summary.json", {
            "provenance": provenance(config, config.seed, device, data=str(spec)), **summary})
    return TrainResult(run.model, summary, out_dir)


@dataclass
class _Run:
    """The state of one training run, shared by the small steps below."""

    config: TrainConfig
    spec: DataSpec
    out_dir: Path
    info: distributed.DistInfo
    device: torch.device
    classes: tuple[str, ...]
    model: torch.nn.Module  # the bare model (what checkpoints hold)
    net: torch.nn.Module  # what the forward pass runs: the model or its DDP wrapper
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    best_metric: float | None = None
    val_set: Dataset | None = None
    skip_bad: bool = False  # leave out missing or undecodable images (mcn.data.check)
    progress: bool = False  # progress bars (rank 0)
    guard: LossGuard = dataclasses.field(default_factory=LossGuard)
    #: (path, iteration) of the newest checkpoint known to hold finite weights
    last_saved: tuple[Path, int] | None = None
    resumed_from: tuple[Path, int] | None = None  # (checkpoint, iteration) a resume began at
    #: fields a resume changed (``resume_overrides``): name -> [old, new]
    resume_changes: dict[str, Any] = dataclasses.field(default_factory=dict)

    def diverged(self, reason: str, iteration: int) -> TrainingDiverged:
        """The error that stops the run: what happened, which checkpoint is good, what next."""
        fresh = self.resumed_from is not None and self.last_saved == self.resumed_from
        return diverged(reason, iteration, self.config.lr, self.out_dir, self.last_saved, fresh)

    def check_weights(self, iteration: int) -> None:
        """Refuse to save parameters or buffers holding NaN or infinity."""
        bad = nonfinite_tensors(self.model.state_dict())
        if bad:
            raise self.diverged(f"{len(bad)} weight tensor(s) became non-finite "
                                f"(e.g. {bad[0]})", iteration)

    def checkpoint_state(self, step: int) -> dict[str, Any]:
        c = self.config
        return {
            "variant": c.variant, "model_preset": c.model_preset,
            "model_config": dataclasses.asdict(self.model.config),
            "num_classes": len(self.classes), "classes": list(self.classes),
            "iteration": step, "config": c.to_dict(), "data": str(self.spec),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": rng_state(), "best_metric": self.best_metric, "guard": self.guard.state_dict(),
        }

    def save(self, step: int) -> None:
        """Write OUT/last.pt (rank 0; the last ``keep`` kept) once all buffers agree."""
        distributed.sync_buffers(self.net)
        # Every rank holds the same weights after the all-reduced step: all stop together.
        self.check_weights(step)
        if self.info.is_main:
            path = save_kept(self.out_dir, self.checkpoint_state(step), step, self.config.keep)
            self.last_saved = (path, step)

    def validate(self, step: int) -> dict[str, Any] | None:
        """Rank 0 scores the validation set; keeps best.pt; the others wait."""
        distributed.sync_buffers(self.net)
        self.check_weights(step)  # on every rank, so that they all stop together
        result = None
        if self.info.is_main:
            if self.val_set is None:
                part = "holdout" if self.spec.kind == "coco" else "val"
                # at most val_images images (e.g. of TT100K's 3071 test images)
                self.val_set = first_items(build_dataset(self.spec, self.config, part,
                                                         skip_bad=self.skip_bad),
                                           self.config.val_images)
            if len(self.val_set):
                result = validation_metrics(self.model, self.val_set, self.config, self.classes,
                                            self.device, size_bin_scale(self.spec, self.config),
                                            progress=self.progress)
                if self.model.has_mask and self.spec.kind == "synth":  # exact masks to compare with
                    result["mask_module"] = mask_module_summary(self.model, self.val_set, self.config,
                                                                self.classes, self.device)
                with open(self.out_dir / "val.jsonl", "a") as f:
                    f.write(json.dumps({"iter": step, **result}) + "\n")
                best = -1.0 if self.best_metric is None else self.best_metric
                if result["map"] is not None and result["map"] > best:  # None: no signs
                    self.best_metric = result["map"]
                    # buffers synced above: self.save would start a collective only this rank joins
                    save_checkpoint(self.out_dir / "best.pt", self.checkpoint_state(step))
        distributed.barrier()
        self.model.train()
        return result


def _setup_run(config: TrainConfig, spec: DataSpec, out_dir: Path, device: torch.device,
               info: distributed.DistInfo, resume: bool | str | os.PathLike,
               resume_overrides: Collection[str], skip_bad: bool) -> tuple[_Run, Dataset, int]:
    """Seed, data, model, optimiser; restore them when resuming. -> (run, train set, start)."""
    if device.type != "cuda" and config.amp != "none":
        warnings.warn(f"amp={config.amp} needs CUDA; training in float32 on {device}")
    checkpoint = resume_checkpoint(out_dir, resume)
    if checkpoint is None and (out_dir / "last.pt").exists():
        raise FileExistsError(f"{out_dir} already holds a run (last.pt); pass --resume to "
                              f"continue it or choose another --out")
    seed_everything(config.seed, config.deterministic)
    train_set = build_dataset(spec, config, "train", skip_bad=skip_bad)
    if len(train_set) == 0:
        raise ValueError(f"--data {spec}: the training set is empty")
    classes = dataset_classes(train_set, config)
    state, changes = None, {}
    if checkpoint is not None:
        state, config, changes = resume_state(checkpoint, config, len(classes), resume_overrides)
    init = initial_weights(config, len(classes)) if state is None else None
    source = state if state is not None else init
    saved_sizes = stored_model_config(source) if source is not None else None
    model, optimizer, scheduler = build_training(config, len(classes), device, saved_sizes)
    if init is not None:
        load_weights(model, init, config.init_from)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and config.amp == "fp16")
    start, best_metric = 0, None
    if state is not None:
        load_weights(model, state, checkpoint)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        start, best_metric = int(state["iteration"]), state.get("best_metric")
        if "lr" in changes:
            change_base_lr(optimizer, scheduler, config.lr, config, start)
    net = model
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    run = _Run(config, spec, out_dir, info, device, classes, model, net, optimizer, scheduler,
               scaler, best_metric, skip_bad=skip_bad)
    if checkpoint is not None:
        run.last_saved = run.resumed_from = (checkpoint, start)
        run.resume_changes = changes
        run.guard.load_state_dict(state.get("guard", {}))  # older checkpoints: a fresh guard
    return run, train_set, start


def _train_step(run: _Run, batches: Iterator, step: int) -> dict[str, float]:
    """One optimiser step over ``accum_steps`` micro-batches; the logged loss terms."""
    config, model, device = run.config, run.model, run.device
    run.optimizer.zero_grad(set_to_none=True)
    sums = torch.zeros(len(LOSS_TERMS), device=device)
    for micro in range(config.accum_steps):
        images, targets = next(batches)
        images = images.to(device, non_blocking=True)
        if config.channels_last and device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        goal = build_targets(_move_targets(targets), len(run.classes), tuple(images.shape[-2:]),
                             model.stride, model.mask_stride, device=device)
        # Gradients are all-reduced once per step, on the last micro-batch.
        last = micro == config.accum_steps - 1 or not run.info.enabled
        with contextlib.nullcontext() if last else run.net.no_sync():
            with _autocast(config, device):
                outputs = run.net(images)  # train mode: EM bases update here
            losses = detection_loss(outputs, goal, LossWeights(**config.loss_weights))
            # Averaged over ranks, so every rank sees the same numbers and stops together.
            values = distributed.all_reduce_mean(
                torch.stack([losses[k].detach().float() for k in LOSS_TERMS]))
            problem = run.guard.check(LOSS_TERMS, values.tolist())
            if problem:
                raise run.diverged(problem, step + 1)
            run.scaler.scale(losses["total"] / config.accum_steps).backward()
        sums += values / config.accum_steps
    if config.grad_clip is not None:
        run.scaler.unscale_(run.optimizer)
        # One batched norm over all ~700 gradients (foreach), not a Python loop over them.
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.scheduler.step()
    return dict(zip(LOSS_TERMS, sums.tolist()))


# --------------------------------------------------------------------------- small helpers

def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; optionally ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _autocast(config: TrainConfig, device: torch.device):
    if device.type != "cuda" or config.amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def _move_targets(targets: list[dict]) -> list[dict]:
    return [{k: v for k, v in t.items() if k in ("boxes", "labels", "masks")} for t in targets]


def _out_of_time(config: TrainConfig, began: float) -> bool:
    """Whether ``time_limit_s`` has passed; every rank takes rank 0's answer."""
    if config.time_limit_s is None:
        return False
    late = torch.tensor([float(time.perf_counter() - began > config.time_limit_s)])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        late = late.to("cuda" if torch.distributed.get_backend() == "nccl" else "cpu")
        torch.distributed.broadcast(late, src=0)
    return bool(late.item())


def _finished_children_cpu_seconds() -> float:
    """CPU seconds of this process's child processes that have ended (loader workers)."""
    return os.times().children_user + os.times().children_system
