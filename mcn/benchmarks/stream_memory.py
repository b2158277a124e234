"""How much memory a process making training batches holds as it goes on.

A loader worker makes batches for hours, so its resident memory must stay flat: one
that grows by megabytes a batch ends a long training run out of memory. This benchmark
makes the book preset's training batches (synthetic scenes, augmentation to a
512-pixel input, collation: what a worker does) in fresh processes, one per arm, and
records the resident set size every few batches:

* ``default``: glibc's malloc as it comes, its mmap threshold moving;
* ``release``: ``mcn.data.heap.release_free_memory`` after each batch, as the training
  stream's ``collate_and_release`` does;
* ``fixed-threshold``: glibc's mmap threshold fixed at 128 kB for the whole process
  (``MALLOC_MMAP_THRESHOLD_``), the other way to keep the heap flat.

Run: ``python -m mcn.benchmarks.stream_memory`` -> data/results/heap_growth.json.
Chapter 9 quotes its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from mcn.provenance import provenance, write_json

DEFAULT_OUT = Path("data") / "results" / "heap_growth.json"
ARMS = ("default", "release", "fixed-threshold")

#: The environment each arm's process starts with, beyond this one's.
ARM_ENVIRONMENT = {"fixed-threshold": {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}}


def resident_mb() -> float:
    """This process's resident set size in MB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def make_batches(arm: str, num_batches: int, every: int, input_size: int) -> dict:
    """Make training batches in this process: its memory ([[batch, MB], ...]) and CPU time."""
    import torch

    from mcn.data.collate import collate
    from mcn.data.sources import build_dataset
    from mcn.data.stream import TrainStream, collate_and_release, sample_positions
    from mcn.data.transforms import train_transform
    from mcn.train import distributed, get_config

    torch.set_num_threads(1)
    make_batch = collate_and_release if arm == "release" else collate
    config = get_config("book", input_size=input_size, train_images=12000,
                        train_class_balance="uniform")
    stream = TrainStream(build_dataset("synth", config, "train"),
                         train_transform(config.input_size), config.seed)
    curve, started = [], time.process_time()
    for step in range(num_batches + 1):
        positions = sample_positions(step, 0, config.batch_size, 1, distributed.DistInfo())
        make_batch([stream[p] for p in positions])
        if step % every == 0:
            curve.append([step, round(resident_mb(), 1)])
    return {"rss_mb": curve, "cpu_seconds_per_batch": (time.process_time() - started) / (num_batches + 1)}


def run_arm(arm: str, num_batches: int, every: int, input_size: int) -> dict:
    """One arm in a fresh process (malloc settings cannot be undone in this one)."""
    done = subprocess.run([sys.executable, "-m", "mcn.benchmarks.stream_memory", "--child", arm,
                           "--batches", str(num_batches), "--every", str(every),
                           "--input-size", str(input_size)],
                          env={**os.environ, **ARM_ENVIRONMENT.get(arm, {})},
                          capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    curve = measured["rss_mb"]
    (first_step, first_mb), (last_step, last_mb) = curve[1], curve[-1]  # after warm-up
    return {"arm": arm, **measured,
            "growth_mb_per_batch": (last_mb - first_mb) / (last_step - first_step)}


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line of this benchmark; returns what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=150, help="batches per arm (default: 150)")
    parser.add_argument("--every", type=int, default=10, help="record every N batches (default: 10)")
    parser.add_argument("--input-size", type=int, default=512, help="input side (default: 512)")
    parser.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--out", "--output", dest="out", type=Path, default=DEFAULT_OUT,
                        help=f"results file (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(make_batches(args.child, args.batches, args.every, args.input_size)))
        return {}
    results = [run_arm(arm, args.batches, args.every, args.input_size) for arm in ARMS]
    for r in results:
        print(f"{r['arm']:>15}: {r['rss_mb'][0][1]:.0f} MB after the first batch, "
              f"{r['rss_mb'][-1][1]:.0f} MB after {r['rss_mb'][-1][0]}; "
              f"{r['growth_mb_per_batch']:+.2f} MB a batch; "
              f"{r['cpu_seconds_per_batch']:.3f} CPU-seconds a batch")
    payload = {"provenance": provenance(config={k: v for k, v in vars(args).items() if k != "child"},
                                        device="cpu", batch_size=4, preset="book"),
               "results": results}
    write_json(args.out, payload)
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
