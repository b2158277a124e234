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
* ``all_reduce_mean``: averaging logged numbers over the ranks, so that the log written
  by rank 0 describes the whole global batch.
* ``sync_buffers``: rank 0's BatchNorm statistics for every rank before saving or scoring.

Each rank's share of the data is a pure function of its rank (``mcn.data.stream``). The
EM-attention bases (``mcn.nn.EMAU``) are buffers that the model updates itself in
training mode; the layer all-reduces its update under ``torch.distributed``, so every
rank keeps identical bases. Taught in chapter 9.
"""

from __future__ import annotations

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


def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics, EM bases) to every rank.

    DDP broadcasts buffers at the start of each forward pass, so the statistics of the
    very last pass differ between ranks until this is called (before saving, scoring
    and at the end). The EM bases already agree: the layer all-reduces their update.
    """
    if dist.is_available() and dist.is_initialized():
        bare = model.module if hasattr(model, "module") else model  # unwrap DDP
        for buffer in bare.buffers():
            dist.broadcast(buffer, src=0)
