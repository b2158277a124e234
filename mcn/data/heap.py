"""A data process whose memory stays the same size for hours (glibc's ``malloc_trim``).

Rendering and augmenting scenes allocates and frees arrays of many sizes, from a few
hundred kilobytes to a few megabytes. glibc serves an allocation above its *mmap
threshold* with a fresh mapping, returned to the system when freed, and anything
smaller from its heap; by default each freed mapping raises the threshold to that
block's size, so after the first images nearly every array comes from the heap. There
blocks of mixed sizes and lifetimes leave free holes that glibc keeps: a loader worker
of the book preset's 512-pixel training grew by about 28 MB a step, past 10 GB, and was
killed for memory (``data/results/heap_growth_observed.json``). Handing the free pages
back after each batch (``malloc_trim(0)``) keeps it flat for a little CPU time; a fixed
mmap threshold does too, but every large array then comes fresh from the system, which
costs about twice as much in the worker and, set for the whole process, slows the
training step itself (``mcn bench stream_memory``: ``data/results/heap_growth.json``).
Used by the training stream (``mcn.data.stream``); taught in chapter 9.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from typing import Any


@functools.lru_cache(maxsize=1)
def _glibc() -> Any | None:
    """This process's C library when it is glibc (it has ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):  # another C library (e.g. musl has no malloc_trim)
        return None
    return libc


def release_free_memory() -> bool:
    """Give the heap's free pages back to the system; False where there is no glibc.

    Call it after each batch in a process that makes batches for hours (a loader
    worker, or the training process itself with no workers); it changes no result.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
