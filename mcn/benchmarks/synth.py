"""How fast SyntheticSigns makes scenes, and whether they have TT100K's statistics.

Data loading must never starve training: the tiny preset trains on a 2-core CPU, so the
generator should make well over 30 images of 256 x 256 per second on one core. This
benchmark renders items through ``SyntheticSigns.__getitem__`` (tensor conversion
included) on one thread and records, per image size:

* images per second of wall-clock time and per CPU-second of this process (the second
  is robust to other programs sharing the machine);
* the measured long-side mix of the boxes (at 512 px scale), the mean number of signs
  per image and the fraction of empty images, against TT100K's (Zhu et al. 2016:
  37.9 / 52.2 / 9.9 %, about 2.5 signs per image).

Run: ``python -m mcn.benchmarks.synth`` -> data/results/bench_synth.json.

Chapter 2 quotes its figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from mcn.benchmarks.timing import load_average
from mcn.boxes import long_side
from mcn.data import signs
from mcn.data.synthetic import REFERENCE_SIZE, SIZE_BINS, SyntheticSigns
from mcn.provenance import provenance, write_json

# Relative to the working directory (a checkout's root): never inside an installed package.
DEFAULT_OUT = Path("data") / "results" / "bench_synth.json"


def measure(image_size: int, num_images: int, seed: int = 0,
            classes: str = "type42") -> dict:
    """Render ``num_images`` items of one size; return speed and statistics."""
    dataset = SyntheticSigns(num_images, image_size=image_size, seed=seed, classes=classes)
    counts, long_sides = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(num_images):
        _, target = dataset[index]
        boxes = target["boxes"]
        counts.append(len(boxes))
        long_sides.append(long_side(boxes))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sides = torch.cat(long_sides).numpy() * REFERENCE_SIZE / image_size
    edges = [lo for _, lo, _ in SIZE_BINS[1:]]
    mix = [float(np.mean(sides < edges[0])),
           float(np.mean((sides >= edges[0]) & (sides < edges[1]))),
           float(np.mean(sides >= edges[1]))]
    return {
        "image_size": image_size,
        "num_images": num_images,
        "images_per_second_wall": num_images / wall,
        "images_per_second_cpu": num_images / cpu,
        "num_signs": int(len(sides)),
        "signs_per_image": float(np.mean(counts)),
        "empty_fraction": float(np.mean(np.asarray(counts) == 0)),
        "size_mix_at_512": dict(zip(("<32", "32-96", "96-400"), mix)),
        "size_mix_target": dict(zip(("<32", "32-96", "96-400"), [b[0] for b in SIZE_BINS])),
    }


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line of this benchmark; returns what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="image sizes to measure (default: 256 512)")
    parser.add_argument("--num-images", type=int, default=300,
                        help="images per size (default: 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", "--output", dest="out", type=Path, default=DEFAULT_OUT,
                        help=f"results file (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    # One core: what a single DataLoader worker gets.
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    # Every class is drawn once per process and cached; time that apart.
    start = time.perf_counter()
    for category in SyntheticSigns(1, classes="type45").classes + ("stop",):
        signs.sign_pyramid(category)
    warmup = time.perf_counter() - start

    results = [measure(size, args.num_images, args.seed) for size in args.sizes]
    for r in results:
        print(f"{r['image_size']:4d} px: {r['images_per_second_wall']:6.1f} img/s wall, "
              f"{r['images_per_second_cpu']:6.1f} img/s per CPU-second; "
              f"{r['signs_per_image']:.2f} signs/image, "
              f"size mix {', '.join(f'{v:.3f}' for v in r['size_mix_at_512'].values())}")
    payload = {
        "provenance": provenance(config=vars(args), seed=args.seed, device="cpu",
                                 cv2_version=cv2.__version__, cv2_threads=1,
                                 load_average=load_average()),
        "class_cache_warmup_seconds": warmup,
        "results": results,
    }
    write_json(args.out, payload)
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
