"""What the book-scale experiments share: test scenes, trained runs, scoring.

The experiments score every model on the same held-out synthetic scenes, drawn with
``TEST_SEED``: a scene stream that neither training (even seeds) nor validation (seed
1 for the default run) of ``mcn train`` draws from. Taught in chapter 11.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from mcn.checkpoint import load_model
from mcn.data.sources import build_dataset
from mcn.data.synthetic import SyntheticSigns
from mcn.models import MaskCornerNet
from mcn.train import TrainConfig, validation_metrics

TEST_SEED = 7919


def test_scenes(config: TrainConfig, num_images: int, image_size: int | None = None,
                seed: int = TEST_SEED) -> SyntheticSigns:
    """``num_images`` held-out synthetic scenes with the classes and class mix of ``config``.

    ``image_size`` defaults to the scenes the run trained on (``config.image_size``).
    """
    return build_dataset("synth", config, "val", num=num_images, seed=seed, image_size=image_size)


def find_checkpoints(folder: str | os.PathLike, variants: Sequence[str]) -> dict[str, Path]:
    """The checkpoint of each variant under ``folder``: FOLDER/VARIANT/last.pt (a run
    folder of ``mcn train``) or FOLDER/VARIANT.pt (shipped weights).

    Raises FileNotFoundError naming every variant that has neither.
    """
    folder = Path(folder)
    found, missing = {}, []
    for variant in variants:
        candidates = [folder / variant / "last.pt", folder / f"{variant}.pt"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(variant)
        else:
            found[variant] = path
    if missing:
        raise FileNotFoundError(f"{folder}: no checkpoint for {', '.join(missing)} "
                                f"(looked for VARIANT/last.pt and VARIANT.pt)")
    return found


def load_run(checkpoint: str | os.PathLike, device: str | torch.device = "cpu", *,
             ae_threshold: float | None = None, join_ratio: float | None = None
             ) -> tuple[MaskCornerNet, TrainConfig, list[str], dict[str, Any]]:
    """A trained model in eval mode -> (model, its TrainConfig, class names, checkpoint).

    ``ae_threshold`` and ``join_ratio``, where given, replace the run's decoding
    settings in the returned config (the pairing limit; the joined-pair rule).
    """
    model, state = load_model(checkpoint, device)
    config = TrainConfig.from_dict(state["config"])
    if ae_threshold is not None:
        config.ae_threshold = ae_threshold
    if join_ratio is not None:
        config.join_ratio = join_ratio
    return model, config, list(state["classes"]), state


def score(model: MaskCornerNet, config: TrainConfig, classes: Sequence[str],
          dataset: SyntheticSigns, device: str | torch.device = "cpu", *,
          input_size: int | None = None, top_k: int | None = None,
          forward: Callable[[torch.Tensor], Mapping[str, torch.Tensor]] | None = None,
          scales: Sequence[float] = (1.0,), scale_band: tuple[float, float] | None = None,
          ) -> dict[str, Any]:
    """TT100K-protocol summary of ``model`` on synthetic ``dataset`` (see
    ``mcn.train.validation_metrics``); size bins scaled to the scenes' side.
    ``scales``/``scale_band``: multi-scale testing (``mcn.multiscale``)."""
    return validation_metrics(model, dataset, config, classes, torch.device(device),
                              dataset.image_size / 512, input_size=input_size,
                              top_k=top_k, forward=forward, scales=scales,
                              scale_band=scale_band)


def flat_row(metrics: Mapping[str, Any], bins: Sequence[str] = ("all", "small", "medium", "large")
             ) -> dict[str, float]:
    """``score``'s nested dict as flat columns: accuracy/recall/mAP/R@A0.5 per size bin."""
    row = {}
    for name in bins:
        row[f"{name}_accuracy"] = metrics["tt100k"][name]["accuracy"]
        row[f"{name}_recall"] = metrics["tt100k"][name]["recall"]
        row[f"{name}_map"] = metrics["map_by_bin"][name]
        row[f"{name}_recall_at_acc_0.5"] = metrics["recall_at_accuracy_0.5"][name]
    row["num_gt"] = metrics["tt100k"]["all"]["num_gt"]
    row["minscore"] = metrics["minscore"]
    return row
