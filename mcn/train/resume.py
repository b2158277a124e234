"""Resuming a run: the checkpoint's own configuration rules, a few fields may change.

A resumed run continues the same run: weights, optimiser, schedule, random generators
and the iteration come from a checkpoint (``OUT/last.pt`` by default, or any file such
as an ``iter-NNNNNN.pt`` that ``--keep`` kept; ``mcn.checkpoint``, ``mcn.train.keep``),
and the data order is a pure function of (seed, iteration) (``mcn.data.stream``), so the
resumed run reads exactly the samples it would have read. Only the fields of
``RESUME_MAY_CHANGE``, which do not change the arithmetic of training, are taken from the
new invocation, and those of ``RESUME_MAY_OVERRIDE`` when they are given explicitly: a
run that diverged continues from its last finite checkpoint with a lower learning rate
or with clipping. A new run may instead start from another run's weights alone
(``--init``, ``initial_weights``): fine-tuning with a new recipe. Taught in chapter 9.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, Collection

from mcn.checkpoint import CheckpointError, check_compatible, load_checkpoint
from mcn.train.config import TrainConfig

#: Fields a resumed run takes from the new invocation: length, budget and bookkeeping.
RESUME_MAY_CHANGE = ("iters", "time_limit_s", "num_workers", "log_every", "ckpt_every",
                     "eval_every", "val_images", "eval_input_size", "eval_minscore",
                     "eval_batch_size", "top_k", "ae_threshold", "num_dets", "join_ratio")

#: Fields a resumed run takes from the new invocation only when they are given
#: (``--lr``, ``--grad-clip``: they change training from the resume on; ``--keep``: how
#: many checkpoints stay, which a resume without it keeps as the run had it).
RESUME_MAY_OVERRIDE = ("lr", "grad_clip", "keep")


def resume_checkpoint(out_dir: Path, resume: bool | str | os.PathLike) -> Path | None:
    """The checkpoint to resume from: None (a new run), ``OUT/last.pt`` or the given file."""
    if resume is False or resume is None:
        return None
    path = out_dir / "last.pt" if resume is True else Path(resume)
    if not path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint {path} to resume from")
    return path


def resume_state(path: Path, config: TrainConfig, num_classes: int,
                 overrides: Collection[str] = ()) -> tuple[dict, TrainConfig, dict[str, Any]]:
    """The checkpoint ``path``, the configuration the resumed run follows, and the changes.

    ``overrides``: the fields of ``RESUME_MAY_OVERRIDE`` given on the command line; the
    returned changes map each that differs from the run's own to [old, new]. Raises
    ``CheckpointError`` when the checkpoint was trained for another variant, class count
    or class list; warns about the fields of the new invocation that are ignored.
    """
    state = load_checkpoint(path)
    check_compatible(state, config.variant, num_classes, source=str(path))
    saved = check_same_classes(state, config, source=str(path))
    taken = RESUME_MAY_CHANGE + tuple(n for n in RESUME_MAY_OVERRIDE if n in overrides)
    ignored = [f.name for f in dataclasses.fields(TrainConfig)
               if f.name not in RESUME_MAY_CHANGE + RESUME_MAY_OVERRIDE
               and getattr(saved, f.name) != getattr(config, f.name)]
    if ignored:
        warnings.warn(f"resuming {path}: the run's own {', '.join(ignored)} are kept "
                      f"(the values given now are ignored)")
    changes = {name: [getattr(saved, name), getattr(config, name)] for name in RESUME_MAY_OVERRIDE
               if name in overrides and getattr(saved, name) != getattr(config, name)}
    return state, dataclasses.replace(
        saved, **{name: getattr(config, name) for name in taken}), changes


def initial_weights(config: TrainConfig, num_classes: int) -> dict[str, Any] | None:
    """The checkpoint named by ``config.init_from`` (None when not set), checked to fit.

    Only its weights (and model sizes) are used: the new run has its own recipe, a fresh
    optimiser and schedule, and starts at iteration 0.
    """
    if config.init_from is None:
        return None
    path = Path(config.init_from)
    if not path.exists():
        raise FileNotFoundError(f"--init: no checkpoint {path}")
    state = load_checkpoint(path)
    check_compatible(state, config.variant, num_classes, source=f"--init {path}")
    check_same_classes(state, config, source=f"--init {path}")
    return state


def check_same_classes(state: dict[str, Any], config: TrainConfig, source: str) -> TrainConfig:
    """The checkpoint's own ``TrainConfig``; ``CheckpointError`` naming ``source`` when it
    was trained on another list of classes than ``config`` asks for."""
    saved = TrainConfig.from_dict(state["config"])
    if saved.class_names != config.class_names and not isinstance(saved.classes, str):
        raise CheckpointError(f"{source} was trained on classes {list(saved.class_names)} but "
                              f"the run asks for {list(config.class_names)}")
    return saved
