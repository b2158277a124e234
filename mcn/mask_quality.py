"""How well the mask module works: is its EM attention attending, and how close is its
segmentation to the exact sign masks? (Yang, Fan and Guo 2020, Section 3.3; EM
attention: Li et al., ICCV 2019.) Taught in chapter 6; the figures of every shipped
mask model are in chapter 11.

Two measurements on a dataset of scenes with exact masks (synthetic scenes have them):

* attention, per mask module (one per stack): ``attention_stats`` of its EMAU's
  responsibilities, averaged over images. Uniform attention (mean max responsibility
  1/K) means the unit rebuilds the same vector everywhere and does nothing.
* the mask, per stack: intersection over union of the predicted segmentation (argmax
  over the C + 1 classes) with the exact ground truth at the mask's resolution, for
  sign against background ("fg_iou": any sign class counts as sign) and per class
  ("class_iou"; "mean_class_iou" over the classes present in the ground truth).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from mcn.data.collate import collate
from mcn.data.transforms import TransformedDataset, eval_transform
from mcn.nn.em_attention import attention_stats
from mcn.targets import build_targets

STAT_KEYS = ("mean_max", "entropy", "bases_owning")


def _mean_stats(rows: list[tuple[dict[str, float], int]]) -> dict[str, float]:
    """Image-weighted mean of per-batch ``attention_stats`` rows (stats, images)."""
    total = sum(n for _, n in rows)
    out = {k: sum(r[k] * n for r, n in rows) / total for k in STAT_KEYS}
    out["max_entropy"], out["bases"] = rows[0][0]["max_entropy"], rows[0][0]["bases"]
    return out


@torch.no_grad()
def mask_module_report(model: torch.nn.Module, dataset: Dataset, classes: Sequence[str],
                       input_size: int, device: str | torch.device = "cpu",
                       batch_size: int = 8) -> dict[str, Any]:
    """Attention and mask figures of ``model`` (a variant with the mask module) on ``dataset``.

    ``dataset`` yields (uint8 image, target with boxes, labels and masks) as
    ``SyntheticSigns`` does; images are letterboxed to ``input_size``. Returns
    {"images", "attention": [per stack: mean_max, entropy, max_entropy, bases_owning,
    bases], "mask": [per stack: fg_iou, class_iou {name: iou}, mean_class_iou]}.
    """
    if not getattr(model, "has_mask", False):
        raise ValueError(f"{getattr(model, 'variant', type(model).__name__)} has no mask module")
    device = torch.device(device)
    model.eval().to(device)
    stacks = len(model.mask_modules)
    num_classes = model.num_classes
    captured: list[torch.Tensor] = []
    hooks = [m.emau.register_forward_hook(lambda mod, inputs, out: captured.append(inputs[0]))
             for m in model.mask_modules]
    attention_rows: list[list] = [[] for _ in range(stacks)]
    # per stack, confusion[true class, predicted class] over pixels, background = 0
    size = num_classes + 1
    confusion = torch.zeros(stacks, size, size, dtype=torch.float64)
    loader = DataLoader(TransformedDataset(dataset, eval_transform(input_size)),
                        batch_size=batch_size, collate_fn=collate)
    try:
        for images, targets in loader:
            captured.clear()
            images = images.to(device)
            outputs = model.forward_stacks(images)
            truth = build_targets([{k: t[k] for k in ("boxes", "labels", "masks")} for t in targets],
                                  num_classes, tuple(images.shape[-2:]), model.stride,
                                  model.mask_stride)["mask"].to(device)
            for s in range(stacks):
                z, _ = model.mask_modules[s].emau.attention(captured[s])
                attention_rows[s].append((attention_stats(z), images.shape[0]))
                pairs = truth.flatten() * size + outputs[s]["mask"].argmax(dim=1).flatten()
                confusion[s] += torch.bincount(pairs, minlength=size * size).reshape(size, size).cpu()
    finally:
        for h in hooks:
            h.remove()
    return {"images": len(dataset),
            "attention": [_mean_stats(rows) for rows in attention_rows],
            "mask": [mask_iou(c, classes) for c in confusion]}


def mask_iou(confusion: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """IoUs from a (C+1, C+1) pixel confusion matrix [true, predicted], class 0 background:
    sign vs background, and each sign class present in the ground truth."""
    hits = confusion.diagonal()
    union = confusion.sum(dim=0) + confusion.sum(dim=1) - hits
    present = confusion.sum(dim=1) > 0
    iou = {name: float(hits[c + 1] / union[c + 1]) for c, name in enumerate(classes) if present[c + 1]}
    sign_union = confusion.sum() - confusion[0, 0]
    return {"fg_iou": float(confusion[1:, 1:].sum() / sign_union) if sign_union > 0 else float("nan"),
            "class_iou": iou,
            "mean_class_iou": sum(iou.values()) / len(iou) if iou else float("nan")}
