"""Forward-pass speed of the five variants, and the cost of one tiny training step.

``benchmark_forward`` times the eval-mode forward pass (batch 1, float32) of every
variant at the tiny preset (its own input size) and at the paper preset (512x512): a
few warm-up runs, then the median of several timed runs. ``benchmark_train_step``
times forward + backward + Adam step of a training batch (default: tiny preset, batch
8) with a stand-in loss (the mean of every output), which measures the network's
share of a training step. The paper reports 52-62 ms for Mask-CornerNet and 32 ms for
CornerNet-Squeeze on a GTX 1080 Ti (Table 3); on a CPU expect seconds.

    python -m mcn.benchmarks.forward [--device cpu] [--repeats 5] [--out data/results/bench_forward.json]

writes the figures with their provenance (torch version, thread count, device, git
commit) and the machine's load average before and after, because timings on a shared
machine are only as good as its quietest moment.

Chapter 11 compares its figures with the paper's.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Sequence

import torch

from mcn.benchmarks.timing import load_average, time_call
from mcn.models import PRESETS, VARIANTS, build_model, get_preset
from mcn.provenance import provenance, write_json

DEFAULT_OUT = Path("data/results/bench_forward.json")


def _summary(times: list[float]) -> dict:
    return {
        "median_ms": round(1000 * statistics.median(times), 2),
        "min_ms": round(1000 * min(times), 2),
        "times_ms": [round(1000 * t, 2) for t in times],
    }


def benchmark_forward(
    presets: Sequence[str] = ("tiny", "paper"),
    variants: Sequence[str] = tuple(VARIANTS),
    num_classes: int = 42,
    batch: int = 1,
    warmup: int = 2,
    repeats: int = 5,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> list[dict]:
    """Eval-mode forward time of each (variant, preset) at the preset's input size."""
    device = torch.device(device)
    rows = []
    for preset in presets:
        size = get_preset(preset).input_size
        for variant in variants:
            torch.manual_seed(seed)
            model = build_model(variant, num_classes=num_classes, preset=preset).to(device).eval()
            images = torch.randn(batch, 3, size, size, device=device)

            def forward() -> None:
                with torch.inference_mode():
                    model(images)

            times = time_call(forward, device, warmup, repeats)
            rows.append({"variant": variant, "preset": preset, "input_size": size, "batch": batch, **_summary(times)})
            print(f"forward {variant:18s} {preset:5s} {size}px: median {rows[-1]['median_ms']:.1f} ms", flush=True)
    return rows


def benchmark_train_step(
    variants: Sequence[str] = ("cornernet-squeeze", "mask-cornernet"),
    preset: str = "tiny",
    num_classes: int = 42,
    batch: int = 8,
    warmup: int = 1,
    repeats: int = 5,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> list[dict]:
    """Forward + backward + Adam step time of a training batch (stand-in loss)."""
    device = torch.device(device)
    size = get_preset(preset).input_size
    rows = []
    for variant in variants:
        torch.manual_seed(seed)
        model = build_model(variant, num_classes=num_classes, preset=preset).to(device).train()
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2.5e-4)
        images = torch.randn(batch, 3, size, size, device=device)

        def step() -> None:
            outputs = model(images)
            loss = sum(value.float().mean() for stack in outputs for value in stack.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        times = time_call(step, device, warmup, repeats)
        rows.append({"variant": variant, "preset": preset, "input_size": size, "batch": batch, **_summary(times)})
        print(f"train step {variant:18s} {preset} batch {batch}: median {rows[-1]['median_ms']:.1f} ms", flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> Path:
    """Command line of this benchmark; returns the JSON file written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    parser.add_argument("--presets", nargs="+", default=["tiny", "paper"], choices=list(PRESETS))
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per model (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument("--train-batch", type=int, default=8, help="batch of the tiny training step")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave)")
    parser.add_argument("--out", "--output", dest="out", type=Path, default=DEFAULT_OUT,
                        help=f"results file (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = {"presets": args.presets, "repeats": args.repeats, "warmup": args.warmup,
                "forward_batch": 1, "train_batch": args.train_batch, "dtype": "float32"}
    load_before = load_average()
    forward = benchmark_forward(args.presets, warmup=args.warmup, repeats=args.repeats, device=args.device)
    train = benchmark_train_step(batch=args.train_batch, repeats=args.repeats, device=args.device)
    record = provenance(config=settings, seed=0, device=args.device,
                        load_average_before=load_before, load_average_after=load_average())
    path = write_json(args.out, {"provenance": record, "forward": forward, "train_step": train})
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
