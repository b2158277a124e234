"""The five training losses of Mask-CornerNet and their weighted total.

Yang, Fan and Guo (EURASIP J. Image Video Process. 2020, "The proposed method", the
loss paragraphs after "Mask module") train with

    L = L_det + 0.1 L_pull + 0.1 L_push + 1 L_off + 1 L_mask,

where the first four terms come from CornerNet (Law and Deng, ECCV 2018):

* ``L_det``: a variant of the focal loss (Lin et al., ICCV 2017) on the TL and BR corner
  heatmaps; negatives near a corner are down-weighted by ``(1 - gt)^4`` of its Gaussian.
* ``L_pull`` / ``L_push``: associative-embedding losses (Newell et al., NIPS 2017) that
  pull the two corner embeddings of one object together and push the mean embeddings of
  different objects at least 1 apart.
* ``L_off``: smooth-L1 loss on the sub-cell offsets, only at real corners.
* ``L_mask`` (the paper's addition): multi-class cross entropy of the mask module's
  segmentation logits (C + 1 classes, 0 background) at half the input resolution.

Normalisation follows the CornerNet reference: the focal loss is divided by the number of
positive cells in the batch, the offset loss by the number of objects in the batch, and
pull/push are normalised per image (by N and N (N - 1)) and then *summed* over the batch.
The pull term is divided by exactly N (the reference uses N + 1e-4, which only guards
0 / 0; here images without objects are masked out instead, so the division is exact;
the offset term likewise). The push term of an image with a single object is 0; the
official code adds about 1 for such an image, a constant with the same gradient.
With two supervised hourglass stacks every term is summed over the stacks and divided by
their number. Taught in chapter 7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "focal_loss",
    "ae_loss",
    "offset_loss",
    "mask_loss",
    "gather_at",
    "LossWeights",
    "detection_loss",
]

_PROB_EPS = 1e-4  # sigmoid outputs are clamped to [eps, 1 - eps] as in CornerNet


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CornerNet's focal loss on a heatmap.

    Args:
        logits: (B, C, h, w) heatmap logits (before the sigmoid).
        target: (B, C, h, w) Gaussian heatmap, exactly 1 at the corners.

    Returns:
        scalar: ``-(sum_pos log(p)(1-p)^2 + sum_neg log(1-p) p^2 (1-gt)^4) / num_pos``,
        or the negative part alone when the batch has no positive cell.
    """
    if logits.shape != target.shape:
        raise ValueError(f"focal_loss: logits {tuple(logits.shape)} and target "
                         f"{tuple(target.shape)} must have the same shape")
    prob = torch.sigmoid(logits.float()).clamp(_PROB_EPS, 1 - _PROB_EPS)
    target = target.float()
    positive = target.eq(1)
    pos_term = torch.log(prob) * (1 - prob) ** 2
    neg_term = torch.log(1 - prob) * prob**2 * (1 - target) ** 4
    total = torch.where(positive, pos_term, neg_term).sum()
    # Without positives the clamp divides by 1, leaving the negative part alone as in
    # CornerNet, with no data-dependent branch (no host-device sync on a GPU).
    num_pos = positive.sum().clamp(min=1)
    return -total / num_pos


def ae_loss(tl_emb: torch.Tensor, br_emb: torch.Tensor,
            valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Associative-embedding pull and push losses.

    Args:
        tl_emb, br_emb: (B, M) embeddings read at each object's TL and BR corner.
        valid: (B, M) bool, True for real objects (the rest is padding).

    Returns:
        (pull, push), scalars summed over the images. For an image with N objects and
        ``e_k = (tl_k + br_k) / 2``: ``pull = sum_k [(tl_k - e_k)^2 + (br_k - e_k)^2] / N``,
        ``push = sum_{j != k} relu(1 - |e_j - e_k|) / (N (N - 1))``, 0 when N < 2.
        Both stay attached to the graph (as zeros) when there are no objects.
    """
    if tl_emb.shape != br_emb.shape or tl_emb.shape != valid.shape or tl_emb.dim() != 2:
        raise ValueError(f"ae_loss: tl_emb {tuple(tl_emb.shape)}, br_emb "
                         f"{tuple(br_emb.shape)} and valid {tuple(valid.shape)} must all "
                         f"be (B, M)")
    valid = valid.bool()
    tl_emb, br_emb = tl_emb.float(), br_emb.float()
    num = valid.sum(dim=1).float()  # (B,) objects per image
    mean = (tl_emb + br_emb) / 2

    spread = (tl_emb - mean) ** 2 + (br_emb - mean) ** 2
    spread = spread * valid  # padding contributes nothing
    pull = (spread.sum(dim=1) / num.clamp(min=1)).sum()

    gap = (mean[:, :, None] - mean[:, None, :]).abs()  # (B, M, M)
    pairs = valid[:, :, None] & valid[:, None, :]
    pairs &= ~torch.eye(valid.shape[1], dtype=torch.bool, device=valid.device)
    hinge = F.relu(1 - gap) * pairs
    num_pairs = (num * (num - 1)).clamp(min=1)
    push = (hinge.sum(dim=(1, 2)) / num_pairs).sum()
    return pull, push


def offset_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 offset loss: summed over real corners, divided by the number of objects.

    Args:
        pred, target: (B, M, 2) offsets at the corners; valid: (B, M) bool.
    """
    if pred.shape != target.shape or pred.shape[:2] != valid.shape:
        raise ValueError(f"offset_loss: pred {tuple(pred.shape)}, target "
                         f"{tuple(target.shape)} and valid {tuple(valid.shape)} disagree")
    valid = valid.bool()
    per_corner = F.smooth_l1_loss(pred.float(), target.float(), reduction="none").sum(-1)
    return (per_corner * valid).sum() / valid.sum().clamp(min=1)


def mask_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Multi-class cross entropy of the mask module, averaged over pixels.

    Args:
        logits: (B, C+1, h, w) segmentation logits; target: (B, h, w) int64 in [0, C].
    """
    if logits.dim() != 4 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"mask_loss: logits {tuple(logits.shape)} need a target of shape "
                         f"(B, h, w) = {(logits.shape[0], *logits.shape[2:])}, "
                         f"got {tuple(target.shape)}")
    return F.cross_entropy(logits.float(), target.long())


def gather_at(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Read per-cell maps at flat cell indices.

    Args:
        maps: (B, D, h, w), e.g. an embedding (D = 1) or offset (D = 2) map.
        index: (B, M) int64 flat indices ``y * w + x``.

    Returns:
        (B, M, D): ``out[b, m] = maps[b, :, index[b, m] // w, index[b, m] % w]``.
    """
    batch, depth = maps.shape[:2]
    if index.dim() != 2 or index.shape[0] != batch:
        raise ValueError(f"gather_at: index must be (B, M) with B = {batch}, "
                         f"got {tuple(index.shape)}")
    flat = maps.reshape(batch, depth, -1)
    picked = flat.gather(2, index[:, None, :].expand(batch, depth, index.shape[1]))
    return picked.transpose(1, 2)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (the paper: alpha = beta = 0.1, lambda = gamma = 1)."""

    det: float = 1.0
    pull: float = 0.1
    push: float = 0.1
    off: float = 1.0
    mask: float = 1.0


#: The loss terms ``detection_loss`` returns, in order; "total" is their weighted sum.
LOSS_TERMS = ("det", "pull", "push", "off", "mask", "total")

_TARGET_KEYS = ("tl_heat", "br_heat", "tl_off", "br_off", "tl_idx", "br_idx", "valid")


def _stack_losses(out: Mapping[str, torch.Tensor],
                  tgt: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """det, pull, push, off (and mask when the stack has one) for one hourglass stack."""
    det = focal_loss(out["tl_heat"], tgt["tl_heat"]) + focal_loss(out["br_heat"], tgt["br_heat"])
    tl_emb = gather_at(out["tl_emb"], tgt["tl_idx"])[..., 0]
    br_emb = gather_at(out["br_emb"], tgt["br_idx"])[..., 0]
    pull, push = ae_loss(tl_emb, br_emb, tgt["valid"])
    off = (offset_loss(gather_at(out["tl_off"], tgt["tl_idx"]), tgt["tl_off"], tgt["valid"])
           + offset_loss(gather_at(out["br_off"], tgt["br_idx"]), tgt["br_off"], tgt["valid"]))
    terms = {"det": det, "pull": pull, "push": push, "off": off}
    if "mask" in out:
        terms["mask"] = mask_loss(out["mask"], tgt["mask"])
    return terms


def detection_loss(outputs: Sequence[Mapping[str, torch.Tensor]] | Mapping[str, torch.Tensor],
                   targets: Mapping[str, torch.Tensor],
                   weights: LossWeights = LossWeights()) -> dict[str, torch.Tensor]:
    """The Mask-CornerNet training loss, term by term.

    Args:
        outputs: the training-mode model output, a list with one dict per supervised
            stack (tl_heat, br_heat (B, C, h, w); tl_emb, br_emb (B, 1, h, w); tl_off,
            br_off (B, 2, h, w); optionally mask (B, C+1, 2h, 2w)). A single dict (an
            eval-mode output) counts as one stack.
        targets: the dict from :func:`mcn.targets.build_targets` (moved to the outputs'
            device here).
        weights: the weight of each term.

    Returns:
        dict of scalars: det (TL + BR focal), pull, push, off (TL + BR), mask (0 when no
        stack predicts a mask) and total = weighted sum; each term is averaged over the
        stacks (the mask over the stacks that have one).
    """
    if isinstance(outputs, Mapping):
        outputs = [outputs]
    if len(outputs) == 0:
        raise ValueError("detection_loss: outputs is empty; expected one dict per stack")
    missing = [k for k in _TARGET_KEYS if k not in targets]
    if missing:
        raise ValueError(f"detection_loss: targets lack {missing}; build them with "
                         f"mcn.targets.build_targets")
    if any("mask" in stack for stack in outputs) and "mask" not in targets:
        raise ValueError("detection_loss: the outputs predict a mask but targets have no "
                         "'mask'; build them with mcn.targets.build_targets")
    device = outputs[0]["tl_heat"].device
    tgt = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in targets.items()}

    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    for stack in outputs:
        for name, value in _stack_losses(stack, tgt).items():
            sums[name] = sums[name] + value if name in sums else value
            counts[name] = counts.get(name, 0) + 1
    losses = {name: sums[name] / counts[name] for name in sums}
    if "mask" not in losses:
        losses["mask"] = torch.zeros((), device=device)
    losses["total"] = (weights.det * losses["det"] + weights.pull * losses["pull"]
                       + weights.push * losses["push"] + weights.off * losses["off"]
                       + weights.mask * losses["mask"])
    return {k: losses[k] for k in LOSS_TERMS}
