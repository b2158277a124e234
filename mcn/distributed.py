"""Data-parallel plumbing for training on one machine with several processes.

``torchrun --nproc_per_node N -m mcn train ...`` starts N copies of the trainer and
tells each its place through environment variables (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT). Each copy holds a full model, sees its own share of every
batch, and PyTorch's DistributedDataParallel averages the gradients so that all copies
take the same optimiser step (Li et al., "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training", VLDB 2020).

What this module adds around DDP:

* ``setup`` / ``cleanup``: join or leave the process group (gloo on CPU, nccl on CUDA);
  a single process without torchrun simply runs with world size 1.
* ``sample_positions`` / ``sample_index``: the training data order as a *pure
  function* of (seed, position in the stream). Nothing about the order lives in a
  sampler object, so a resumed run reads exactly the samples an uninterrupted run would
  have read, and every rank computes its own share without talking to the others.
* ``all_reduce_mean``: averaging logged numbers over the ranks, so that the log written
  by rank 0 describes the whole global batch.

The EM-attention bases (``mcn.nn.EMAU``) are buffers that the model updates itself in
training mode; the layer all-reduces its update under ``torch.distributed``, so every
rank keeps identical bases (REFERENCE.md section 6).
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job: its rank among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs, checkpoints and results."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str | torch.device = "cpu") -> tuple[DistInfo, torch.device]:
    """Join the process group if torchrun started us; pick this process's device.

    ``device`` is what the user asked for ("cpu", "cuda", "cuda:1", "auto"). Under
    torchrun with CUDA, each process takes the GPU numbered by its LOCAL_RANK.
    Returns the ``DistInfo`` and the ``torch.device`` to use.
    """
    device = resolve_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(), device
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistInfo(rank, world_size, local_rank), device


def cleanup() -> None:
    """Leave the process group (no-op when running alone)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn "auto" (or None) into cuda when available, else cpu; check the rest.

    Raises ValueError for a CUDA device on a machine without CUDA, naming it.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"--device {device!r} is not a device name (try cpu, cuda, auto)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device} was asked for but CUDA is not available here")
    return device


def barrier() -> None:
    """Wait for every rank (no-op when running alone)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over all ranks (a copy; unchanged when running alone)."""
    values = values.detach().clone()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= dist.get_world_size()
    return values


def find_free_port() -> int:
    """A TCP port that nothing listens on right now (for tests and local launches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- data order

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


def sample_positions(
    step: int, micro_step: int, batch_size: int, accum_steps: int, info: DistInfo
) -> list[int]:
    """Stream positions of this rank's share of one micro-batch.

    One optimiser step consumes ``accum_steps`` micro-batches on each of the
    ``world_size`` ranks, each of ``batch_size`` samples; the stream is cut into those
    pieces in the order (step, micro-step, rank, sample), so ranks never read the same
    position and together read a contiguous stretch of the stream, like
    ``torch.utils.data.DistributedSampler`` but with no state to save.
    """
    micro_batches_before = (step * accum_steps + micro_step) * info.world_size + info.rank
    start = micro_batches_before * batch_size
    return list(range(start, start + batch_size))


def _mix(seed: int, epoch: int) -> int:
    """Combine two integers into one generator seed (distinct pairs, distinct seeds)."""
    return (int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1)
