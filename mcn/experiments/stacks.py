"""Table 2 of Yang, Fan and Guo (2020) at book scale: which features to detect from.

The paper detects "directly on the feature output of each hourglass": stack 1 alone,
stack 2 alone, and their element-wise sum (the fusion Mask-CornerNet trains with), and
finds recall 82.34 % for stack 1 against 89.83 % for the sum.
``MaskCornerNet.forward_sources`` gives the three outputs of one trained model; scoring a model
trained with fusion and one trained without shows both sides of the question.

Taught in chapter 11.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import torch

from mcn.experiments.common import flat_row, load_run, score, test_scenes


def stack_rows(checkpoints: Mapping[str, str | os.PathLike], num_images: int = 200,
               device: str | torch.device = "cpu", progress: bool = True) -> list[dict[str, Any]]:
    """One row per (model, feature source): stack-1, stack-2, fused; scored alike.

    ``trained_output`` is True for the source the model's ``forward`` returns (the one
    its last heads were trained on).
    """
    rows = []
    for name, path in checkpoints.items():
        model, config, classes, _ = load_run(path, device)
        scenes = test_scenes(config, num_images)
        trained = "fused" if model.fusion else f"stack-{model.config.stacks}"
        for source in _sources(model.config.stacks):
            if progress:
                print(f"stacks: {name} detecting from {source}", flush=True)

            def forward(images: torch.Tensor, source: str = source) -> dict[str, torch.Tensor]:
                return model.forward_sources(images)[source]

            metrics = score(model, config, classes, scenes, device, forward=forward)
            rows.append({"model": name, "source": source, "trained_output": source == trained,
                         **flat_row(metrics)})
    return rows


def _sources(stacks: int) -> list[str]:
    return [f"stack-{s + 1}" for s in range(stacks)] + ["fused"]


def stack_table(rows: Sequence[Mapping[str, Any]]):
    """Accuracy, recall and mAP per (model, source), as in Table 2 (pandas)."""
    import pandas as pd

    table = pd.DataFrame(rows).set_index(["model", "source"])
    columns = {"all_accuracy": "A", "all_recall": "R", "all_map": "mAP",
               "all_recall_at_acc_0.5": "R at A>=0.5", "trained_output": "trained output"}
    return table[list(columns)].rename(columns=columns)
