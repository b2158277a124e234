"""Keeping the last N checkpoints of a run (``mcn train --keep N``).

A run saves ``OUT/last.pt`` every ``ckpt_every`` iterations (``mcn.checkpoint``). With
``keep`` = 1, the default, that file is all there is, replaced at each save, as runs
have always done. With ``keep`` = N > 1 every save is written as ``OUT/iter-NNNNNN.pt``
(its iteration, six digits) and ``last.pt`` becomes a second name of the newest one (a
hard link, so no extra disk; a copy where the file system has no links); the oldest
files beyond N are removed. Any of them can be resumed (``--resume OUT/iter-NNNNNN.pt``)
or evaluated: when a run diverges, or a file turns out corrupted, an earlier one is
still there. Files of iterations after the one being saved, left by a run that was
resumed from an earlier checkpoint, are never removed: they are that run's other
branch, not older saves. Taught in chapter 9.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from mcn.checkpoint import remove_stale_temporaries, save_checkpoint

LAST = "last.pt"
_ITER_NAME = re.compile(r"iter-(\d+)\.pt")


def iteration_file(out_dir: Path, iteration: int) -> Path:
    """``OUT/iter-NNNNNN.pt``, where ``keep`` > 1 saves iteration ``iteration``."""
    return out_dir / f"iter-{iteration:06d}.pt"


def kept_checkpoints(out_dir: Path) -> dict[int, Path]:
    """The ``iter-NNNNNN.pt`` files of a run folder, by iteration, oldest first."""
    found = {int(m.group(1)): p for p in out_dir.glob("iter-*.pt")
             if (m := _ITER_NAME.fullmatch(p.name))}
    return dict(sorted(found.items()))


def save_kept(out_dir: Path, state: dict[str, Any], iteration: int, keep: int) -> Path:
    """Save ``state`` as the run's newest checkpoint and keep the last ``keep`` of them.

    Returns the file that holds this checkpoint for good: ``last.pt`` when ``keep`` is 1,
    else ``iter-NNNNNN.pt`` (``last.pt`` names the same file until the next save).
    """
    if keep <= 1:
        return save_checkpoint(out_dir / LAST, state)
    path = save_checkpoint(iteration_file(out_dir, iteration), state)
    _point_last_at(path)
    older = [p for i, p in kept_checkpoints(out_dir).items() if i <= iteration]
    for stale in older[:-keep]:
        stale.unlink(missing_ok=True)
    return path


def _point_last_at(path: Path) -> None:
    """Make ``last.pt`` beside ``path`` name the same contents, atomically: at every
    moment ``last.pt`` is either the previous checkpoint or this one."""
    last = path.with_name(LAST)
    remove_stale_temporaries(last)
    tmp = last.with_name(f".{LAST}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(path, tmp)
        except OSError:  # no hard links here (some network or FAT file systems): copy
            shutil.copyfile(path, tmp)
        os.replace(tmp, last)
    finally:
        tmp.unlink(missing_ok=True)
