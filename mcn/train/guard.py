"""Stopping a diverging run before it saves anything broken.

Three checks guard a run: every loss term must be finite; the total must stay below
``bound x`` the median of the recent totals (a loss of 1e24 is a divergence even while
it is still a float); and the median of the last ``early`` totals must stay below
``growth x`` the median of the run's first ``early`` (a slow divergence: with ``--lr 10``
the loss climbs to tens of thousands with no single jump large enough for the second
check). Before every save the model's parameters and buffers must be finite too. Any
failure raises ``TrainingDiverged``, whose message names the last checkpoint that is
known to be finite and how to resume it with other settings. Taught in chapter 9.

Why ``growth`` = 10 with windows of 20 (data/results/guard_divergence.json): in the
committed logs of the book's three healthy runs (17 400 iterations) and in 80-iteration
runs of the issue's small setting at learning rates from 3e-3 to 1, the median of 20
totals never rose above 1.08 x that of the first 20 (a healthy loss falls from its
random start); at ``--lr 10`` it passed 10 x at iteration 38 of 40 (losses up to 68 000).
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Iterable

import numpy as np


class TrainingDiverged(RuntimeError):
    """A loss became non-finite or exploded, or the weights did; nothing broken was saved."""


def diverged(reason: str, iteration: int, lr: float, out_dir: Path,
             last_saved: tuple[Path, int] | None, resumed: bool = False) -> TrainingDiverged:
    """The error that stops a run at ``iteration``: what happened, which checkpoint is
    good, what next. ``last_saved``: (path, iteration) of the newest finite checkpoint;
    ``resumed``: whether the run was resumed from that one (and has saved none since)."""
    start_again = f"start again with a lower --lr (e.g. {lr / 10:g}), a --warmup or a --grad-clip"
    if last_saved is None:
        kept = f"no checkpoint was written yet; {start_again}"
    elif resumed and iteration == last_saved[1] + 1:  # resuming it again would loop
        kept = (f"the run resumed from {last_saved[0]} diverged at its first step: its weights "
                f"are finite but already broken; {start_again}, in a new --out")
    else:
        path, saved_at = last_saved
        kept = (f"the last finite checkpoint is {path} (iteration {saved_at}); resume it "
                f"with other settings, e.g. mcn train --out {out_dir} --resume {path} "
                f"--lr {lr / 10:g} --grad-clip 1")
    return TrainingDiverged(f"{reason} at iteration {iteration}; training stopped, "
                            f"nothing broken was saved; {kept}")


class LossGuard:
    """Watches the loss terms of each iteration; ``check`` names the first problem.

    ``bound``: how many times the median of the last ``window`` totals a total may
    reach, once ``min_history`` totals were seen. One is enough: the first loss of a
    run, at random initialisation, is about as large as a healthy run's loss gets.
    ``growth``: how many times the median of the first ``early`` totals the median of
    the last ``early`` may reach.
    """

    def __init__(self, bound: float = 1e4, window: int = 1000, min_history: int = 1,
                 growth: float = 10.0, early: int = 20):
        self.bound, self.min_history = bound, min_history
        self.growth, self.early = growth, early
        self.totals: deque[float] = deque(maxlen=window)
        self.first: list[float] = []  # the run's first ``early`` totals

    def state_dict(self) -> dict[str, list[float]]:
        """The totals the guard remembers; checkpoints keep them, so that a resumed run is
        judged against the whole run, not against its own first (maybe already broken) steps."""
        return {"totals": list(self.totals), "first": list(self.first)}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        """Remember what ``state_dict`` gave (an empty dict: nothing, a fresh guard)."""
        self.totals.clear()
        self.totals.extend(float(t) for t in state.get("totals", []))
        self.first = [float(t) for t in state.get("first", [])]

    def check(self, terms: Iterable[str], values: Iterable[float]) -> str | None:
        """None when the iteration is healthy, else what went wrong (and remember it)."""
        named = dict(zip(terms, values))
        bad = [name for name, v in named.items() if not math.isfinite(v)]
        if bad:
            return f"non-finite loss terms ({', '.join(bad)}): {bad[0]!r} became {named[bad[0]]}"
        total = named.get("total", sum(named.values()))
        if len(self.totals) >= self.min_history:
            median = float(np.median(self.totals))
            if median > 0 and total > self.bound * median:
                return (f"the total loss {total:.3g} exceeds {self.bound:g} x its running "
                        f"median {median:.3g}")
        self.totals.append(total)
        if len(self.first) < self.early:
            self.first.append(total)
        return self._growth_problem()

    def _growth_problem(self) -> str | None:
        if len(self.first) < self.early:
            return None
        start = float(np.median(self.first))
        now = float(np.median(list(self.totals)[-self.early:]))
        if start > 0 and now > self.growth * start:
            return (f"the median of the last {self.early} total losses, {now:.3g}, grew past "
                    f"{self.growth:g} x that of the first {self.early}, {start:.3g} (a slow "
                    f"divergence)")
        return None
