"""Data-parallel training: two CPU processes (gloo) agree on every parameter and buffer;
torchrun launches the command line; devices are checked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mcn.train import distributed
from mcn.train.distributed import find_free_port

WORLD_SIZE = 2


def _config(iters: int = 3):
    from mcn.classes import top_classes
    from mcn.train import get_config
    return get_config("tiny", input_size=64, image_size=128, batch_size=2, iters=iters,
                      train_images=8, val_images=2, num_workers=0, ckpt_every=2,
                      classes=top_classes(3), warmup_iters=1)


def _worker(rank: int, port: int, base: str) -> None:
    """One process of the job: an EM-attention check, then a short training run."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD_SIZE), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)

    # EMAU updates its bases inside forward; different data per rank must still leave
    # identical bases, because the layer all-reduces the update.
    from mcn.nn.em_attention import EMAU
    torch.manual_seed(0)
    layer = EMAU(8, bases=4).train()
    initial = layer.mu.clone()
    layer(torch.randn(2, 8, 5, 5, generator=torch.Generator().manual_seed(100 + rank)))
    torch.save({"initial": initial, "mu": layer.mu.clone()}, f"{base}/emau{rank}.pt")

    from mcn.train import train
    result = train(_config(), "synth", f"{base}/run{rank}", "cpu", progress=False)
    torch.save({"state": result.model.state_dict(), "summary": result.summary},
               f"{base}/rank{rank}.pt")


def _spawn(base: Path, timeout: float = 240.0) -> None:
    context = mp.spawn(_worker, args=(find_free_port(), str(base)), nprocs=WORLD_SIZE,
                       join=False)
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1.0):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.terminate()
            pytest.fail(f"the {WORLD_SIZE}-process run did not finish in {timeout} s")


@pytest.mark.slow
def test_two_processes_train_in_lockstep(tmp_path):
    _spawn(tmp_path)

    emau = [torch.load(tmp_path / f"emau{r}.pt") for r in range(WORLD_SIZE)]
    assert not torch.equal(emau[0]["mu"], emau[0]["initial"])  # the update happened
    assert torch.equal(emau[0]["mu"], emau[1]["mu"])  # ... identically on both ranks

    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD_SIZE)]
    first, second = ranks[0]["state"], ranks[1]["state"]
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), f"{name} differs between the ranks"
    assert any("ema" in name and name.endswith(".mu") for name in first)

    # Only rank 0 writes: its run folder is complete, rank 1's was never created.
    run0 = tmp_path / "run0"
    assert {"config.json", "log.jsonl", "last.pt", "best.pt", "summary.json"} <= {p.name for p in run0.iterdir()}
    assert not (tmp_path / "run1").exists()
    assert ranks[0]["summary"]["world_size"] == WORLD_SIZE
    from mcn.checkpoint import load_checkpoint
    saved = load_checkpoint(run0 / "last.pt")["model"]
    assert all(torch.equal(saved[k], first[k]) for k in first)
    assert [int(l.split('"iter": ')[1].split(",")[0]) for l in
            (run0 / "log.jsonl").read_text().splitlines()] == [1, 2, 3]


@pytest.mark.slow
def test_torchrun_launches_the_command_line(tmp_path):
    """The documented launch: torchrun -m mcn train (two processes, gloo, CPU)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_port", str(find_free_port()), "-m", "mcn", "train", "--preset", "tiny",
               "--data", "synth", "--out", str(tmp_path / "run"), "--iters", "2",
               "--batch-size", "2", "--input-size", "64", "--image-size", "128",
               "--train-images", "4", "--val-images", "0", "--workers", "0",
               "--classes", "top3", "--device", "cpu", "--quiet", "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained 2 iterations") == 1  # rank 0 alone reports
    config = (tmp_path / "run" / "config.json").read_text()
    assert '"world_size": 2' in config


def test_resolve_device_refuses_cuda_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        distributed.resolve_device("cuda")
    assert distributed.resolve_device("auto").type == "cpu"
