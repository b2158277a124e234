"""The training stream: epochs are permutations, ranks share the stream, items are pure
functions of their position."""

from __future__ import annotations

import torch

from mcn.data.sources import build_dataset
from mcn.data.stream import TrainStream, epoch_permutation, sample_index, sample_positions
from mcn.train import train
from mcn.train.distributed import DistInfo
from tests.train.small_runs import small_config


def test_each_epoch_is_a_permutation_and_ranks_share_the_stream():
    perm = epoch_permutation(7, seed=1, epoch=0)
    assert sorted(perm.tolist()) == list(range(7))
    assert not torch.equal(perm, epoch_permutation(7, seed=1, epoch=1))
    # Positions 0..13 cover two epochs: each index exactly twice.
    visited = sorted(sample_index(p, 7, 1) for p in range(14))
    assert visited == sorted(list(range(7)) * 2)
    # Two ranks, batch 3, accumulation 2: every position read once, by one rank.
    seen = []
    for step in range(2):
        for micro in range(2):
            for rank in range(2):
                seen += sample_positions(step, micro, 3, 2, DistInfo(rank, 2))
    assert sorted(seen) == list(range(2 * 2 * 2 * 3))


def test_train_stream_items_are_pure_functions_of_their_position():
    config = small_config()
    dataset = build_dataset("synth", config, "train")
    from mcn.data.transforms import train_transform
    a = TrainStream(dataset, train_transform(64), seed=5)
    b = TrainStream(dataset, train_transform(64), seed=5, cache=True)
    for position in (0, 4, 11):
        (xa, ta), (xb, tb) = a[position], b[position]
        assert torch.equal(xa, xb) and torch.equal(ta["boxes"], tb["boxes"])
