"""Fig. 8 of Yang, Fan and Guo (2020) at book scale: how many corners to keep.

Decoding keeps the K highest-scoring top-left and bottom-right corners of each image
and pairs them (K x K candidates); the paper uses K = 100 and reports that 50-200
"did not affect" detection. We score one trained model at several K and time the
decoding step alone, which is where K costs. Taught in chapter 11.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from mcn.data.transforms import eval_transform
from mcn.decode import decode
from mcn.benchmarks.timing import median_ms
from mcn.experiments.common import flat_row, load_run, score, test_scenes

DEFAULT_KS = (10, 20, 50, 100, 150, 200)


def proposal_rows(checkpoint: str | os.PathLike, ks: Sequence[int] = DEFAULT_KS,
                  num_images: int = 200, repeats: int = 20, device: str | torch.device = "cpu",
                  progress: bool = True) -> list[dict[str, Any]]:
    """One row per K: the TT100K numbers and the median decode time of one image (ms)."""
    model, config, classes, _ = load_run(checkpoint, device)
    scenes = test_scenes(config, num_images)
    image, _ = scenes[0]
    x, target = eval_transform(config.eval_size)(image, {"image_id": 0})
    with torch.inference_mode():
        outputs = model(x[None].to(device))
    rows = []
    for k in ks:
        if progress:
            print(f"proposals: K = {k}", flush=True)
        metrics = score(model, config, classes, scenes, device, top_k=k)

        def decode_once(k: int = k) -> None:
            decode(outputs, k=k, ae_threshold=config.ae_threshold, num_dets=config.num_dets,
                   stride=model.stride, letterbox=[target["meta"]], join_ratio=config.join_ratio)

        rows.append({"k": k, "decode_ms": round(median_ms(decode_once, device, 2, repeats), 3),
                     **flat_row(metrics)})
    return rows


def plot_proposals(rows: Sequence[dict[str, Any]], title: str = "Number of corners K"):
    """Fig. 8's view: accuracy, recall and mAP against K, with decode time beside."""
    import matplotlib.pyplot as plt

    ks = [r["k"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for column, label in (("all_accuracy", "accuracy"), ("all_recall", "recall"),
                          ("all_map", "mAP"), ("all_recall_at_acc_0.5", "recall at accuracy >= 0.5")):
        left.plot(ks, [r[column] for r in rows], marker="o", label=label)
    left.set(xlabel="K (corners kept per heatmap)", ylabel="value", ylim=(0, 1), title=title)
    left.legend(fontsize=8)
    right.plot(ks, [r["decode_ms"] for r in rows], marker="o", color="black")
    right.set(xlabel="K", ylabel="decode time per image (ms)", title="cost of K")
    right.set_ylim(bottom=0)
    fig.tight_layout()
    return fig
