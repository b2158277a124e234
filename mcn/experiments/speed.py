"""Table 3 and Fig. 9 of Yang, Fan and Guo (2020) at book scale: size and time.

Table 3 compares model sizes (Mask-CornerNet: 112.8 MB) and times; Fig. 9 plots GPU
time and recall of several detectors at input sides 128 to 640. Here: parameter counts
and fp32 megabytes of the five variants at the paper and tiny presets, and for trained
tiny models the forward time of one image and the recall at each input side.

The test scenes are 512-pixel scenes letterboxed to each side; a model trained on
256-pixel scenes (the tiny preset) sees its training scale at side 256, and signs
larger or smaller than it learned at other sides: Fig. 9's trade-off includes that.

The stem's stride (``ModelConfig.stem_stride``: 4 as in the paper, or 8) sets the
size of every map after it; ``stem_stride_rows`` times the paper-sized network both
ways, untrained (time does not depend on the weights).

Taught in chapter 11.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from typing import Any, Mapping, Sequence

import torch

from mcn.benchmarks.timing import median_ms, time_call
from mcn.experiments.common import flat_row, load_run, score, test_scenes
from mcn.models import build_model, get_preset
from mcn.models.size import model_size_table

DEFAULT_SIZES = (128, 256, 448, 512, 640)  # the paper's input sides in Fig. 9


def size_rows(num_classes: int = 42) -> list[dict[str, Any]]:
    """Parameters and fp32 MB of every variant at the paper and tiny presets (Table 3)."""
    return model_size_table(num_classes=num_classes)


def speed_rows(checkpoints: Mapping[str, str | os.PathLike], sizes: Sequence[int] = DEFAULT_SIZES,
               num_images: int = 100, scene_size: int = 512, repeats: int = 5,
               device: str | torch.device = "cpu", progress: bool = True) -> list[dict[str, Any]]:
    """One row per (variant, input side): median forward ms of one image and the
    TT100K numbers on ``num_images`` held-out scenes of ``scene_size`` pixels."""
    device = torch.device(device)
    rows = []
    for variant, path in checkpoints.items():
        model, config, classes, _ = load_run(path, device)
        scenes = test_scenes(config, num_images, image_size=scene_size)
        for side in sizes:
            if progress:
                print(f"speed: {variant} at {side} px", flush=True)
            images = torch.randn(1, 3, side, side, device=device)

            def forward() -> None:
                with torch.inference_mode():
                    model(images)

            forward_ms = median_ms(forward, device, 1, repeats)
            metrics = score(model, config, classes, scenes, device, input_size=side)
            rows.append({"variant": variant, "input_size": side,
                         "forward_ms": round(forward_ms, 2),
                         **flat_row(metrics)})
    return rows


def stem_stride_rows(variants: Sequence[str] = ("cornernet-squeeze", "mask-cornernet"),
                     preset: str = "paper", side: int = 512, rounds: int = 5,
                     device: str | torch.device = "cpu") -> list[dict[str, Any]]:
    """Forward ms of one ``side``-pixel image at stem stride 4 and 8, per variant.

    The two strides take turns, one call each per round (a shared machine's load then
    falls on both alike); each row gives both medians and their ratio.
    """
    device = torch.device(device)
    images = torch.randn(1, 3, side, side, device=device)
    rows = []
    for variant in variants:
        models = {stride: build_model(variant, preset=dataclasses.replace(get_preset(preset),
                                                                          stem_stride=stride))
                  .to(device).eval() for stride in (4, 8)}
        times: dict[int, list[float]] = {4: [], 8: []}
        with torch.inference_mode():
            for round_ in range(rounds):
                for stride, model in models.items():
                    # The first round warms each model up and is not counted.
                    times[stride] += time_call(lambda: model(images), device,
                                               warmup=int(round_ == 0), repeats=1)
        ms = {stride: 1000 * statistics.median(t) for stride, t in times.items()}
        rows.append({"variant": variant, "preset": preset, "input_size": side,
                     "stride4_ms": round(ms[4], 1), "stride8_ms": round(ms[8], 1),
                     "speedup": round(ms[4] / ms[8], 2)})
    return rows


def plot_speed(rows: Sequence[Mapping[str, Any]], title: str = "Time and recall against input side"):
    """Fig. 9's view: forward time (left) and recall (right) per variant and input side."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        sides = [r["input_size"] for r in mine]
        left.plot(sides, [r["forward_ms"] for r in mine], marker="o", label=variant)
        right.plot(sides, [r["all_recall"] for r in mine], marker="o", label=variant)
    left.set(xlabel="input side (px)", ylabel="forward time, one image (ms)", yscale="log")
    right.set(xlabel="input side (px)", ylabel="recall (all sizes)", ylim=(0, 1))
    left.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
