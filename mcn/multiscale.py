"""Multi-scale testing: the network at several input sizes, each trusted for some sizes.

CornerNet (Law and Deng, ECCV 2018, "Testing details") can test an image at several
scales (0.5 to 1.5), map every scale's boxes back to the original image and merge them
all with soft-NMS. Mask-CornerNet (Yang, Fan and Guo 2020) does not say whether its
reported figures are single- or multi-scale; the book's own tables are single scale.

A small network sees well only objects in a band of sizes *in its input pixels*. The
tiny Mask-CornerNet of this package, trained on 256-pixel scenes, finds signs of
roughly 8 to 48 input pixels: signs larger than that are found when the scene is shown
at half size, signs smaller than about 16 pixels when it is enlarged by 1.25 (chapter
11 measures it). Merging every scale's boxes, as CornerNet does, also merges every
scale's false alarms. SNIP (Singh and Davis, CVPR 2018) answers this by trusting each
scale only for the object sizes it handles well; here that rule is applied at test
time. From each scale keep the boxes whose long side, in that scale's input pixels,
lies in ``band = (low, high)``; the smallest input also keeps every larger box and the
largest input every smaller one, so no size is left without a scale.

Steps per image: decode each scale without soft-NMS (raw corner pairs, in original
pixels), filter by the band (:func:`keep_in_band`), concatenate, soft-NMS once over all
of them (:func:`merge_detections`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch

from mcn.boxes import long_side
from mcn.decode import soft_nms

__all__ = ["check_scales", "check_band", "scaled_input_sizes", "keep_in_band",
           "merge_detections", "merge_scales"]


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """``scales`` as a tuple of positive floats (ValueError naming the culprit)."""
    try:
        values = tuple(float(s) for s in scales)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scales must be a sequence of numbers, got {scales!r}") from err
    if not values:
        raise ValueError("scales must hold at least one scale, got none")
    bad = [s for s in values if not (math.isfinite(s) and s > 0)]
    if bad:
        raise ValueError(f"scales must be positive numbers, got {bad} in {list(values)}")
    if len(set(values)) != len(values):
        raise ValueError(f"scales must not repeat, got {list(values)}")
    return values


def check_band(band: Sequence[float] | None) -> tuple[float, float] | None:
    """``band`` as (low, high) input pixels with 0 <= low < high, or None."""
    if band is None:
        return None
    try:
        low, high = (float(v) for v in band)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scale band must be two numbers (low, high), got {band!r}") from err
    if not (0 <= low < high):
        raise ValueError(f"scale band needs 0 <= low < high input pixels, got ({low}, {high})")
    return low, high


def scaled_input_sizes(input_size: int, scales: Sequence[float], multiple: int) -> list[int]:
    """Input sides ``input_size * scale``, each rounded to the nearest ``multiple``.

    The network needs sides divisible by its ``input_multiple`` (stem stride times the
    hourglass halvings); 256 x (0.5, 1, 1.25) with multiple 64 gives 128, 256, 320.
    """
    sizes = []
    for scale in check_scales(scales):
        side = int(round(input_size * scale / multiple)) * multiple
        if side < multiple:
            raise ValueError(f"scale {scale} of input {input_size} is below the smallest "
                             f"input the network takes ({multiple} pixels)")
        sizes.append(side)
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"scales {list(scales)} of input {input_size} round to repeated "
                         f"input sizes {sizes} (multiples of {multiple})")
    return sizes


def keep_in_band(detections: Mapping[str, torch.Tensor], letterbox_scale: float,
                 band: tuple[float, float], *, smallest: bool, largest: bool
                 ) -> dict[str, torch.Tensor]:
    """The detections of one image and one scale whose size this scale sees well.

    Args:
        detections: {"boxes" (D, 4) original pixels, "scores" (D,), "labels" (D,)}.
        letterbox_scale: input pixels per original pixel at this scale (meta["scale"]).
        band: (low, high) long side in input pixels that the scale is trusted for.
        smallest, largest: this is the smallest (keeps every box above ``low``) or the
            largest (keeps every box below ``high``) input size.
    """
    side = long_side(detections["boxes"]) * letterbox_scale
    low, high = band
    keep = torch.ones_like(side, dtype=torch.bool)
    if not largest:
        keep &= side >= low
    if not smallest:
        keep &= side < high
    return {k: v[keep] for k, v in detections.items()}


def merge_detections(per_scale: Sequence[Mapping[str, torch.Tensor]], sigma: float = 0.5,
                     max_dets: int = 100, score_threshold: float = 0.001
                     ) -> dict[str, torch.Tensor]:
    """One image's detections from every scale -> one set, per-class soft-NMS, best first.

    Args:
        per_scale: dicts with boxes (D_s, 4) in original pixels, scores (D_s,), labels (D_s,).

    Returns:
        {"boxes" (D, 4), "scores" (D,), "labels" (D,)} with D <= ``max_dets``.
    """
    boxes = torch.cat([d["boxes"] for d in per_scale])
    scores = torch.cat([d["scores"] for d in per_scale])
    labels = torch.cat([d["labels"] for d in per_scale])
    keep, new_scores = soft_nms(boxes, scores, labels, sigma, score_threshold)
    keep, new_scores = keep[:max_dets], new_scores[:max_dets]
    return {"boxes": boxes[keep], "scores": new_scores, "labels": labels[keep]}


def merge_scales(per_scale: Sequence[Sequence[Mapping[str, torch.Tensor]]],
                 metas: Sequence[Sequence[Mapping[str, Any]]], sizes: Sequence[int],
                 band: tuple[float, float] | None, max_dets: int = 100
                 ) -> list[dict[str, torch.Tensor]]:
    """A batch's raw detections at every input size -> merged detections per image.

    Args:
        per_scale[s][i]: image i's raw pairs at input ``sizes[s]`` (original pixels).
        metas[s][i]: its letterbox metadata at that size (``meta["scale"]`` is used).
        band: (low, high) input pixels, or None to keep every box of every scale
            (CornerNet's merge).
    """
    smallest, largest = min(sizes), max(sizes)
    merged = []
    for i in range(len(per_scale[0])):
        kept = []
        for s, size in enumerate(sizes):
            found = per_scale[s][i]
            if band is not None:
                found = keep_in_band(found, float(metas[s][i]["scale"]), band,
                                     smallest=size == smallest, largest=size == largest)
            kept.append(found)
        merged.append(merge_detections(kept, max_dets=max_dets))
    return merged
