"""Handing free heap pages back: a fragmented heap shrinks, and the training stream does
it after every batch without changing the batch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mcn.data.collate import collate
from mcn.data.heap import release_free_memory
from mcn.data.sources import build_dataset
from mcn.data.stream import TrainStream, collate_and_release, make_train_loader
from mcn.data.transforms import train_transform
from mcn.train.distributed import DistInfo
from tests.train.small_runs import small_config

glibc_only = pytest.mark.skipif(not release_free_memory(), reason="needs glibc's malloc_trim")

# Blocks of 100 kB come from the heap (below glibc's first mmap threshold); a small
# survivor after each keeps the heap from shrinking at its top when they are freed.
FRAGMENT_AND_RELEASE = """
import sys
from mcn.data.heap import release_free_memory
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
blocks, survivors = [], []
for _ in range(3000):
    blocks.append(bytearray(100_000))
    survivors.append(bytearray(600))
del blocks
held = resident_mb()
release_free_memory()
print(held, resident_mb())
"""


@glibc_only
def test_release_hands_a_fragmented_heaps_free_pages_back():
    done = subprocess.run([sys.executable, "-c", FRAGMENT_AND_RELEASE], capture_output=True,
                          text=True, check=True, timeout=120)
    held, released = map(float, done.stdout.split())
    assert held - released > 200, (held, released)  # about 300 MB were freed


def test_the_training_stream_releases_after_each_batch_and_keeps_the_batch():
    config = small_config()
    stream = TrainStream(build_dataset("synth", config, "train"), train_transform(64), seed=5)
    items = [stream[p] for p in range(3)]
    images, targets = collate_and_release(items)
    expected_images, expected_targets = collate(items)
    assert torch.equal(images, expected_images)
    for got, expected in zip(targets, expected_targets):
        assert torch.equal(got["boxes"], expected["boxes"])
    loader = make_train_loader(build_dataset("synth", config, "train"), config, DistInfo(), 0)
    assert loader.collate_fn is collate_and_release
