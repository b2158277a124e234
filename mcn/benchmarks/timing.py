"""Timing a call: the one stopwatch of the benchmarks and the experiments.

Wall-clock time after untimed warm-up calls, with the device synchronised around each
call (CUDA kernels run asynchronously), and the machine's load average, because timings
on a shared machine are only as good as its quietest moment. The paper's speed figures
(Yang, Fan and Guo 2020, Table 3 and Fig. 9) are timed the same way at book scale in
chapter 11.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device | str = "cpu", warmup: int = 2,
              repeats: int = 5) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def median_ms(fn: Callable[[], object], device: torch.device | str = "cpu", warmup: int = 1,
              repeats: int = 5) -> float:
    """Median wall time of ``fn`` in milliseconds (``time_call``)."""
    return 1000 * statistics.median(time_call(fn, device, warmup, repeats))


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15-minute load average (None where there is none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None
