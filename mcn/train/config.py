"""The training configuration and its two recipes, ``PAPER`` and ``TINY``.

The recipe is the paper's (Yang, Fan and Guo, "Anchor-free object detection with mask
attention", EURASIP J. Image Video Process. 2020, "Datasets and implementation
details"): random initialisation, Adam with learning rate 2.5e-4 multiplied by 0.1
every 180 000 iterations, batch size 13, 512 x 512 inputs, and the loss
L = L_det + 0.1 L_pull + 0.1 L_push + L_off + L_mask (``mcn.losses``). ``TrainConfig``
holds it; ``TINY`` shrinks it to minutes on a 2-core CPU. (``mcn.models`` names the
network's sizes ``paper`` and ``tiny`` too: ``TrainConfig.model_preset`` picks one.)

Every field that ``mcn train`` can change carries its option in its metadata (``option``):
the flag and its help, from which ``mcn.cli.train`` builds the command line. Taught in
chapter 9.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

from mcn.classes import parse_classes, resolve_classes, top_classes
from mcn.data.synthetic import MAX_LOOKALIKE_FACTOR, class_weights, size_factors
from mcn.losses import LossWeights
from mcn.models import ModelConfig, get_preset

_MISSING: Any = dataclasses.MISSING


def option(default: Any = _MISSING, flag: str | None = None, help: str = "", *,
           factory: Callable[[], Any] | None = None,
           convert: Callable[[Any], Any] | None = None, **argparse: Any) -> Any:
    """A ``TrainConfig`` field; with ``flag``, also a ``mcn train`` option.

    ``help`` and ``argparse`` (type, choices, metavar, action) describe the option;
    ``convert`` turns what argparse read into the field's value (e.g. minutes into
    seconds). ``factory`` makes a mutable default.
    """
    metadata = {} if flag is None else {"flag": flag, "help": help, "convert": convert, **argparse}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def parse_assignments(text: str, flag: str) -> dict[str, float]:
    """"a=1,b=2.5" -> {"a": 1.0, "b": 2.5}; ValueError naming ``flag`` and the bad item."""
    values = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{flag}: {item!r} is not NAME=NUMBER") from None
    return values


def parse_loss_weights(text: str) -> dict[str, float]:
    """"pull=1,push=1" -> {"pull": 1.0, "push": 1.0}; ValueError naming a bad term."""
    terms = [f.name for f in dataclasses.fields(LossWeights)]
    weights = parse_assignments(text, "--loss-weights")
    for name in weights:
        if name not in terms:
            raise ValueError(f"--loss-weights: unknown term {name!r}; terms: {', '.join(terms)}")
    return weights


def _minutes_to_seconds(minutes: float) -> float:
    return 60.0 * minutes


@dataclass
class TrainConfig:
    """Everything that defines a training run. Start from a recipe: ``get_config``.

    Batch arithmetic: every optimiser step sees ``batch_size x accum_steps x
    world_size`` images (``batch_size`` per process and micro-batch).
    """

    preset: str = "paper"
    # model
    variant: str = option("mask-cornernet", "--variant",
                          "cornernet-squeeze, cornernet-fusion, cornernet-fire, cornernet-mask "
                          "or mask-cornernet (default: mask-cornernet)")
    model_preset: str = option("paper", "--model-preset", "model size (default: the preset's)",
                               choices=["tiny", "book", "paper"])  # mcn.models preset
    model_width: float | None = option(  # channel width multiplier (None: the preset's own)
        None, "--width", "channel width multiplier (default: the model preset's)", type=float)
    classes: Any = option(  # catalogue name or tuple of category names
        "type42", "--classes", "type42, type45, topN (N most frequent) or a,b,c",
        convert=parse_classes)
    input_size: int = option(  # square training input (multiple of model.input_multiple)
        512, "--input-size", "training input side (random crops of the scenes)", type=int)
    eval_input_size: int | None = option(  # letterbox side at evaluation (None: input_size)
        None, "--eval-input-size", "input side at validation (default: the input size)", type=int)
    # optimisation (the paper: Adam, 2.5e-4, x0.1 every 180k iterations, batch 13)
    iters: int = option(360_000, "--iters", "optimiser steps in total", type=int)
    batch_size: int = option(13, "--batch-size", "images per process and micro-batch", type=int)
    accum_steps: int = option(1, "--accum-steps", "micro-batches per optimiser step", type=int)
    lr: float = option(2.5e-4, "--lr", "Adam learning rate", type=float)
    warmup_iters: int = option(  # linear warm-up from lr/100 (0: none, as in the paper)
        0, "--warmup", "linear warm-up iterations", type=int)
    decay_every: int = option(  # multiply lr by decay_factor every this many iterations
        180_000, "--decay-every", "multiply lr by 0.1 every this many iterations", type=int)
    decay_factor: float = 0.1
    lr_schedule: str = option(  # "step": x decay_factor every decay_every; "cosine": to 0 at iters
        "step", "--schedule",
        "learning-rate decay: step (x0.1 every --decay-every) or cosine (to 0)",
        choices=["step", "cosine"])
    grad_clip: float | None = option(  # max gradient norm; None: no clipping
        None, "--grad-clip", "clip the gradient norm to this", type=float)
    loss_weights: dict = option(
        flag="--loss-weights",
        help="change loss weights, e.g. pull=1,push=1 (terms det, pull, push, off, mask)",
        metavar="TERM=W,...", factory=lambda: dataclasses.asdict(LossWeights()),
        convert=parse_loss_weights)  # the recipe's weights with the named ones changed
    # speed (CUDA only; ignored on the CPU)
    amp: str = option("none", "--amp", "mixed precision (CUDA only)",
                      choices=["none", "bf16", "fp16"])
    channels_last: bool = option(False, "--channels-last",
                                 "channels_last memory format (CUDA only)", action="store_true")
    # data
    image_size: int = option(  # side of synthetic scenes ("synth" data only)
        512, "--image-size", "synthetic scene side", type=int)
    train_images: int = option(  # synthetic training scenes (the pool the stream cycles)
        20_000, "--train-images", "synthetic training scenes", type=int)
    val_images: int = option(500, "--val-images",
                             "images scored at each validation (0: none)", type=int)
    # The synthetic training scenes may differ from the validation / test mix (None: same):
    train_signs_per_image: float | None = option(  # mean signs per scene (the mix: 2.5)
        None, "--signs-per-image",
        "mean signs per synthetic training scene (validation keeps 2.5)", type=float)
    train_class_balance: str | None = option(  # "tt100k" or "uniform" (the mix: class_balance)
        None, "--train-balance",
        "class mix of synthetic training scenes (validation keeps the preset's)",
        choices=["tt100k", "uniform"])
    train_oversample: dict | None = option(  # class -> factor on its weight (training only)
        None, "--oversample",
        "sample these classes more often in synthetic training scenes, e.g. pl40=3,pl50=3",
        metavar="CLASS=F,...", convert=lambda text: parse_assignments(text, "--oversample"))
    train_size_oversample: dict | None = option(  # size bin -> factor on its share (training only)
        None, "--oversample-sizes",
        "draw these size bins more often in synthetic training scenes, e.g. large=2.5",
        metavar="BIN=F,...", convert=lambda text: parse_assignments(text, "--oversample-sizes"))
    train_lookalikes: float | None = option(  # factor on the look-alikes (training only)
        None, "--lookalikes", "multiply the unlabelled look-alikes of synthetic training "
        "scenes (one to five a scene) by F", type=float, metavar="F")
    class_balance: str = "tt100k"  # synthetic class frequencies: "tt100k" or "uniform"
    augment: bool = option(  # CornerNet's random crop, colour jitter and lighting
        True, "--no-augment", "no random crop / colour augmentation", action="store_true",
        convert=lambda given: not given)
    num_workers: int = option(4, "--workers", "DataLoader worker processes", type=int)
    init_from: str | None = option(  # fine-tuning: weights only, a fresh optimiser at step 0
        None, "--init", "start from the weights of this checkpoint (same variant, classes and "
        "model size); optimiser, schedule and iteration start afresh", metavar="CHECKPOINT")
    # reproducibility
    seed: int = option(0, "--seed", "random seed", type=int)
    deterministic: bool = option(  # torch.use_deterministic_algorithms (slower on CUDA)
        False, "--deterministic", "deterministic kernels", action="store_true")
    # bookkeeping
    log_every: int = 20  # progress-bar refresh (the JSONL log has every iteration)
    ckpt_every: int = option(5_000, "--ckpt-every", "save last.pt every N iterations", type=int)
    keep: int = option(  # checkpoints kept (mcn.train.keep): 1 is last.pt alone, as always
        1, "--keep", "keep the last N checkpoints as iter-NNNNNN.pt, last.pt naming the newest "
        "(default: 1, last.pt only)", type=int)
    eval_every: int = option(  # 0: validate only at the end
        20_000, "--eval-every", "validate every N iterations (0: at the end only)", type=int)
    time_limit_s: float | None = option(  # stop (and save) after this much training time
        None, "--time-limit",
        "stop after this many minutes of training (then validate and save)",
        type=float, metavar="MINUTES", convert=_minutes_to_seconds)
    # evaluation / decoding (the paper: top 100 corners)
    top_k: int = 100
    ae_threshold: float = option(
        0.5, "--ae-threshold", "largest TL/BR embedding distance of a pair at validation",
        type=float)
    num_dets: int = 100
    join_ratio: float | None = option(  # None: pairs joining two objects are kept
        None, "--join-ratio", "drop corner pairs that join two objects (mcn.joins) at "
        "this score ratio when decoding (default: keep them)", type=float)
    eval_minscore: float = option(  # TT100K protocol, scores on the 0-100 scale
        40.0, "--minscore", "validation minscore, 0-100 scale", type=float)
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
        self._check_ranges()
        if isinstance(self.classes, list):
            self.classes = tuple(self.classes)
        if self.train_oversample:
            try:
                class_weights(self.class_names, "uniform", self.train_oversample)
            except ValueError as error:
                raise ValueError(f"--oversample (train_oversample): {error}") from None
        try:
            size_factors(self.train_size_oversample)
        except ValueError as error:
            raise ValueError(f"--oversample-sizes (train_size_oversample): {error}") from None

    def _check_ranges(self) -> None:
        """ValueError naming the option (and field) of the first value out of its range."""
        def at_least(low: float) -> Callable[[Any], bool]:
            return lambda v: math.isfinite(v) and v >= low

        def positive(v: Any) -> bool:
            return math.isfinite(v) and v > 0

        rules: dict[str, tuple[Callable[[Any], bool], str]] = {
            "lr": (positive, "a finite number > 0"),
            "grad_clip": (positive, "a finite number > 0 (leave it out for no clipping)"),
            "time_limit_s": (at_least(0), ">= 0"),  # 0: stop after the first iteration
            "ckpt_every": (at_least(1), ">= 1"),
            "keep": (at_least(1), ">= 1"),
            "log_every": (at_least(1), ">= 1"),
            "eval_every": (at_least(0), ">= 0 (0: at the end only)"),
            "warmup_iters": (at_least(0), ">= 0"),
            "val_images": (at_least(0), ">= 0"),
            "train_images": (at_least(1), ">= 1"),
            "num_workers": (at_least(0), ">= 0"),
            "eval_minscore": (lambda v: math.isfinite(v) and 0 <= v <= 100, "in 0-100"),
            "ae_threshold": (positive, "> 0"),
            "join_ratio": (positive, "> 0 (leave it out to keep every pair)"),
            "train_lookalikes": (lambda v: math.isfinite(v) and 0 <= v <= MAX_LOOKALIKE_FACTOR,
                                 f"in 0-{MAX_LOOKALIKE_FACTOR:g}"),
        }
        flags = {f.name: f.metadata.get("flag") for f in dataclasses.fields(self)}
        for name, (valid, rule) in rules.items():
            value = getattr(self, name)
            if value is not None and not valid(value):
                shown = value / 60 if name == "time_limit_s" else value  # given in minutes
                label = f"{flags[name]} ({name})" if flags[name] else f"TrainConfig.{name}"
                raise ValueError(f"{label} must be {rule}, got {shown:g}")
        for term, weight in self.loss_weights.items():
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"--loss-weights: {term}={weight:g} must be a finite number >= 0")

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
        """The category names, in label order."""
        return resolve_classes(self.classes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (classes as a name or a list)."""
        d = dataclasses.asdict(self)
        d["classes"] = self.classes if isinstance(self.classes, str) else list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """The config of ``to_dict`` (e.g. from a checkpoint); unknown fields are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**d)


# The paper's setting: batch 13, 512 input, Adam 2.5e-4, x0.1 at 180k iterations;
# what a GPU run of the published Mask-CornerNet on TT100K uses.
PAPER = TrainConfig()

# A CPU-sized run that learns to find synthetic signs in about ten minutes on 2 cores;
# each choice and the runs behind it: chapter 9 and data/results/train_tiny_synth.json.
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

# The tiny recipe for a couple of CPU-hours on the wider book model (``mcn.models.BOOK``);
# the runs and their results: chapter 9 and data/results/experiment_operating-point.json.
# The shipped book weights add two stages from these (``--init``: 6000 steps on a uniform
# class mix, then 8000 with the speed limits three times as often; the commands in
# data/runs/book-*-balanced/ and book-*-speed-limits/config.json).
BOOK = dataclasses.replace(
    TINY,
    preset="book",
    model_preset="book",
    iters=8000,
    decay_every=7000,
    train_images=4000,
    val_images=200,
    log_every=20,
    ckpt_every=250,
    eval_every=1000,
)

PRESETS: dict[str, TrainConfig] = {"paper": PAPER, "tiny": TINY, "book": BOOK}


def get_config(preset: str = "tiny", **overrides: Any) -> TrainConfig:
    """A copy of recipe ``preset`` ("tiny", "book" or "paper") with some fields changed."""
    if preset not in PRESETS:
        raise ValueError(f"unknown training preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
    return dataclasses.replace(PRESETS[preset], **overrides)
