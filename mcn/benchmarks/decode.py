"""Benchmark: decoding time per image and target-building time per batch.

``python -m mcn.benchmarks.decode`` writes data/results/bench_decode.json.

* Decoding: one image, 42 classes, 128 x 128 corner maps (a 512 input), random logits,
  for K in 50, 100, 150, 200 (the paper's Fig. 8 sweep; K = 100 is its setting; the goal
  is <= 10 ms per image on a CPU at K = 100).
* Targets: a batch of 16 images of 512 x 512 with 10 objects each, with instance masks
  and without (filled boxes), plus one image with 500 objects.

Each figure is the median (and the minimum) of repeated runs after a warm-up.

Chapter 8 quotes its figures.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Callable

import torch

from mcn.benchmarks.timing import load_average, time_call
from mcn.decode import decode
from mcn.models import HEAD_KEYS
from mcn.provenance import provenance, write_json
from mcn.targets import build_targets

# Relative to the working directory (a checkout's root): never inside an installed package.
DEFAULT_OUTPUT = Path("data") / "results" / "bench_decode.json"


def time_it(fn: Callable[[], object], repeats: int, warmup: int = 3,
            device: torch.device | None = None) -> dict[str, float]:
    """Median and minimum wall time of ``fn`` in milliseconds (timed by ``timing.time_call``)."""
    times = [1e3 * t for t in time_call(fn, device or torch.device("cpu"), warmup, repeats)]
    return {"median_ms": statistics.median(times), "min_ms": min(times), "repeats": repeats}


def random_outputs(num_classes: int = 42, side: int = 128, seed: int = 0,
                   device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Eval-mode outputs with random logits (biased low, like a trained heatmap)."""
    gen = torch.Generator().manual_seed(seed)
    # Per kind of map: (channels, spread, centre) of the random values.
    kinds = {"heat": (num_classes, 2.0, -6.0), "emb": (1, 1.0, 0.0), "off": (2, 0.3, 0.5)}
    outputs = {}
    for key in HEAD_KEYS:
        channels, scale, shift = kinds[key.split("_")[1]]
        values = torch.randn(1, channels, side, side, generator=gen) * scale + shift
        outputs[key] = values.to(device)
    return outputs


def random_targets(num_images: int, num_objects: int, side: int = 512, num_classes: int = 42,
                   with_masks: bool = True, seed: int = 0) -> list[dict]:
    """Dataset-style target dicts with sign-sized boxes and elliptic masks."""
    gen = torch.Generator().manual_seed(seed)
    targets = []
    for _ in range(num_images):
        size = torch.randint(8, 97, (num_objects, 1), generator=gen).float()
        corner = torch.rand(num_objects, 2, generator=gen) * (side - size)
        boxes = torch.cat([corner, corner + size], 1).round()
        target = {"boxes": boxes,
                  "labels": torch.randint(0, num_classes, (num_objects,), generator=gen)}
        if with_masks:
            ys = torch.arange(side).float()[:, None] + 0.5
            xs = torch.arange(side).float()[None, :] + 0.5
            masks = torch.zeros(num_objects, side, side, dtype=torch.bool)
            for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
                cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
                masks[i] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
            target["masks"] = masks
        targets.append(target)
    return targets


def run(repeats: int = 50, device: str = "cpu",
        output: str | Path | None = DEFAULT_OUTPUT) -> dict:
    """Run every measurement; write the JSON when ``output`` is not None."""
    dev = torch.device(device)
    results: dict[str, object] = {}

    outputs = random_outputs(device=dev)
    decode_ms = {}
    for k in (50, 100, 150, 200):
        decode_ms[str(k)] = time_it(lambda: decode(outputs, k=k), repeats, device=dev)
    results["decode_one_image_42x128x128"] = decode_ms

    target_ms = {}
    for label, masks in (("with_masks", True), ("filled_boxes", False)):
        batch = random_targets(16, 10, with_masks=masks)
        target_ms[f"16x10_objects_512_{label}"] = time_it(
            lambda: build_targets(batch, 42, (512, 512), device=dev), max(5, repeats // 5),
            warmup=1, device=dev)
    crowd = random_targets(1, 500, with_masks=False)
    target_ms["1x500_objects_512_filled_boxes"] = time_it(
        lambda: build_targets(crowd, 42, (512, 512), device=dev), max(5, repeats // 5),
        warmup=1, device=dev)
    results["build_targets"] = target_ms
    results["decode_goal_ms_at_k100"] = 10.0

    # The machine may be shared: record its load next to the figures.
    record = {"provenance": provenance(config={"repeats": repeats}, seed=0, device=dev,
                                       load_average_1_5_15min=load_average()),
              "results": results}
    if output is not None:
        write_json(output, record)
    return record


def main(argv: list[str] | None = None) -> None:
    """Command line of this benchmark (``mcn bench decode -- --repeats 10``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per figure")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--out", "--output", dest="output", default=str(DEFAULT_OUTPUT),
                        help=f"JSON file to write (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    record = run(args.repeats, args.device, args.output)
    for section, figures in record["results"].items():
        if isinstance(figures, dict):
            for name, figure in figures.items():
                print(f"{section} {name}: median {figure['median_ms']:.2f} ms "
                      f"(min {figure['min_ms']:.2f})")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
