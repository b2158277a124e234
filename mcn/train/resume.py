"""Resuming a run: the checkpoint's own configuration rules, a few fields may change.

A resumed run continues the same run: weights, optimiser, schedule, random generators
and the iteration come from ``OUT/last.pt`` (``mcn.checkpoint``), and the data order is
a pure function of (seed, iteration) (``mcn.data.stream``), so the resumed run reads
exactly the samples it would have read. Only the fields of ``RESUME_MAY_CHANGE``, which
do not change the arithmetic of training, are taken from the new invocation. Taught in
chapter 9.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from mcn.checkpoint import CheckpointError, check_compatible, load_checkpoint
from mcn.train.config import TrainConfig

#: Fields a resumed run takes from the new invocation: length, budget and bookkeeping.
RESUME_MAY_CHANGE = ("iters", "time_limit_s", "num_workers", "log_every", "ckpt_every",
                     "eval_every", "val_images", "eval_input_size", "eval_minscore",
                     "eval_batch_size", "top_k", "ae_threshold", "num_dets")


def resume_state(out_dir: Path, config: TrainConfig, num_classes: int) -> tuple[dict, TrainConfig]:
    """The checkpoint ``OUT/last.pt`` and the configuration the resumed run follows.

    Raises FileNotFoundError without a checkpoint and ``CheckpointError`` when it was
    trained for another variant, class count or class list; warns about the fields of
    the new invocation that are ignored.
    """
    path = out_dir / "last.pt"
    if not path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint {path} to resume from")
    state = load_checkpoint(path)
    check_compatible(state, config.variant, num_classes, source=str(path))
    saved = TrainConfig.from_dict(state["config"])
    if saved.class_names != config.class_names and not isinstance(saved.classes, str):
        raise CheckpointError(f"{path} was trained on classes {list(saved.class_names)} but "
                              f"the run asks for {list(config.class_names)}")
    ignored = [f.name for f in dataclasses.fields(TrainConfig)
               if f.name not in RESUME_MAY_CHANGE and getattr(saved, f.name) != getattr(config, f.name)]
    if ignored:
        warnings.warn(f"resuming {path}: the run's own {', '.join(ignored)} are kept "
                      f"(the values given now are ignored)")
    return state, dataclasses.replace(
        saved, **{name: getattr(config, name) for name in RESUME_MAY_CHANGE})
