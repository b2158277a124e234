"""The training stream: an endless, stateless order of augmented items, shared by ranks.

Position p of the stream reads dataset index ``sample_index(p)`` of epoch
``p // len(dataset)`` (each epoch a fresh permutation) and augments it with a generator
fixed by (seed, epoch, index). The order is a *pure function* of (seed, position):
nothing about it lives in a sampler object, so a resumed run reads exactly the samples
an uninterrupted run would have read, and each of the processes of data-parallel
training (Li et al., "PyTorch Distributed", VLDB 2020) computes its own share without
talking to the others (``sample_positions``). Taught in chapter 9.
"""

from __future__ import annotations

import functools
from typing import Any, Iterator, Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from mcn.data.collate import collate
from mcn.data.heap import release_free_memory
from mcn.data.rng import item_rng
from mcn.data.synthetic import SyntheticSigns
from mcn.data.transforms import eval_transform, train_transform


class Shard(Protocol):
    """Where a process stands among the ranks (``mcn.train.distributed.DistInfo``)."""

    rank: int
    world_size: int


class StreamConfig(Protocol):
    """The fields of a training configuration (``mcn.train.TrainConfig``) the stream reads."""

    seed: int
    iters: int
    batch_size: int  # per process and micro-batch
    accum_steps: int  # micro-batches per optimiser step
    input_size: int
    augment: bool
    num_workers: int


# --------------------------------------------------------------------------- the order

@functools.lru_cache(maxsize=4)
def epoch_permutation(num_items: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch ``epoch`` visits the ``num_items`` samples.

    A pure function of (seed, epoch): the same call on any rank, in any run, gives the
    same permutation, which is what makes resuming and sharding exact.
    """
    generator = torch.Generator()
    generator.manual_seed(_mix(seed, epoch))
    return torch.randperm(num_items, generator=generator)


def sample_index(position: int, num_items: int, seed: int) -> int:
    """The dataset index read at ``position`` of the endless training stream.

    The stream walks epoch after epoch, each a fresh permutation of the dataset.
    """
    epoch, offset = divmod(position, num_items)
    return int(epoch_permutation(num_items, seed, epoch)[offset])


def sample_positions(step: int, micro_step: int, batch_size: int, accum_steps: int,
                     shard: Shard) -> list[int]:
    """Stream positions of this rank's share of one micro-batch.

    One optimiser step consumes ``accum_steps`` micro-batches on each of the
    ``world_size`` ranks, each of ``batch_size`` samples; the stream is cut into those
    pieces in the order (step, micro-step, rank, sample), so ranks never read the same
    position and together read a contiguous stretch of the stream, like
    ``torch.utils.data.DistributedSampler`` but with no state to save.
    """
    micro_batches_before = (step * accum_steps + micro_step) * shard.world_size + shard.rank
    start = micro_batches_before * batch_size
    return list(range(start, start + batch_size))


def _mix(seed: int, epoch: int) -> int:
    """Combine two integers into one generator seed (distinct pairs, distinct seeds)."""
    return (int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1)


# --------------------------------------------------------------------------- the stream

class TrainStream(Dataset):
    """The endless training stream: item at stream position p, augmented.

    Every item is a pure function of its position, whichever process or loader worker
    makes it. ``cache`` keeps the un-augmented items in memory (worth it for synthetic
    scenes, which are rendered, when the pool is small enough).
    """

    def __init__(self, dataset: Dataset, transform: Any, seed: int, cache: bool = False):
        self.dataset, self.transform, self.seed = dataset, transform, seed
        self.cache: dict[int, Any] | None = {} if cache else None

    def __len__(self) -> int:  # positions are unbounded; DataLoader only needs a number
        return 2**62

    def _item(self, index: int):
        if self.cache is None:
            return self.dataset[index]
        if index not in self.cache:
            self.cache[index] = self.dataset[index]
        return self.cache[index]

    def __getitem__(self, position: int):
        num = len(self.dataset)
        epoch = position // num
        index = sample_index(position, num, self.seed)
        image, target = self._item(index)
        return self.transform(image, target, rng=item_rng(index, self.seed, epoch))


class StreamBatches:
    """Batch sampler: this rank's stream positions for every micro-batch from a step on."""

    def __init__(self, config: StreamConfig, shard: Shard, start_step: int):
        self.config, self.shard, self.start_step = config, shard, start_step

    def __iter__(self) -> Iterator[list[int]]:
        c = self.config
        for step in range(self.start_step, c.iters):
            for micro in range(c.accum_steps):
                yield sample_positions(step, micro, c.batch_size, c.accum_steps, self.shard)

    def __len__(self) -> int:
        return max(0, self.config.iters - self.start_step) * self.config.accum_steps


def make_train_loader(dataset: Dataset, config: StreamConfig, shard: Shard,
                      start_step: int) -> DataLoader:
    """A DataLoader yielding (images (B, 3, S, S) float, list of targets) micro-batches.

    Augmented with CornerNet's recipe (``train_transform``) when ``config.augment``,
    else only letterboxed (``eval_transform``), to ``config.input_size``.
    """
    transform = (train_transform if config.augment else eval_transform)(config.input_size)
    # A small pool of synthetic scenes is rendered once and reused (the cache lives in
    # the loader worker); real images are decoded from disk each time.
    cache = isinstance(dataset, SyntheticSigns) and len(dataset) <= 5000
    stream = TrainStream(dataset, transform, config.seed, cache=cache)
    workers = config.num_workers
    return DataLoader(stream, batch_sampler=StreamBatches(config, shard, start_step),
                      collate_fn=collate_and_release, num_workers=workers,
                      persistent_workers=False, prefetch_factor=4 if workers else None)


def collate_and_release(items: list) -> tuple[torch.Tensor, list[dict]]:
    """``collate``, then the heap's free pages back to the system: the process making
    batches for hours then stays the same size (``mcn.data.heap``)."""
    batch = collate(items)
    release_free_memory()
    return batch
