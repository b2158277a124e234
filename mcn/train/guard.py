"""Stopping a diverging run before it saves anything broken.

Two checks guard a run: every loss term must be finite and the total must stay below
``bound x`` the median of the recent totals (a loss of 1e24 is a divergence even while
it is still a float), and before every save the model's parameters and buffers must be
finite. Either failure raises ``TrainingDiverged``, whose message names the last
checkpoint that is known to be finite and how to resume it with other settings.
Taught in chapter 9.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Iterable

import numpy as np


class TrainingDiverged(RuntimeError):
    """A loss became non-finite or exploded, or the weights did; nothing broken was saved."""


class LossGuard:
    """Watches the loss terms of each iteration; ``check`` names the first problem.

    ``bound``: how many times the median of the last ``window`` totals a total may
    reach, once ``min_history`` totals were seen. One is enough: the first loss of a
    run, at random initialisation, is about as large as a healthy run's loss gets.
    """

    def __init__(self, bound: float = 1e4, window: int = 1000, min_history: int = 1):
        self.bound, self.min_history = bound, min_history
        self.totals: deque[float] = deque(maxlen=window)

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
        return None
