"""From corner heatmaps to boxes: CornerNet decoding with soft-NMS.

CornerNet (Law and Deng, ECCV 2018) keeps the local maxima of the TL and BR heatmaps,
takes the top K of each over all classes and pairs them (``mcn.corners``). Mask-CornerNet
(Yang, Fan and Guo, EURASIP J. Image Video Process. 2020) decodes the same way with
K = 100 ("Datasets and implementation details") and sweeps K from 50 to 200 ("The
effect of the number of proposals", Fig. 8). The surviving pairs go through per-class
Gaussian soft-NMS (Bodla et al., ICCV 2017): each kept box lowers the score of every
other box of its class by ``exp(-IoU^2 / sigma)``, with the IoU of plain areas
(TT100K's evaluation counts them so; the official CornerNet code adds a pixel to each
side). ``decode`` ends at boxes, scores and
labels per image.

Boxes are mapped back to the original image by undoing the letterbox
(``mcn.data.geometry.LetterboxMeta``): original = (input - pad) / scale, clipped to the
image; boxes left with no area (they lay entirely in the padding) are dropped. Taught in
chapter 8.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from mcn.boxes import box_iou
from mcn.corners import pair_corners, top_corners
from mcn.joins import joined_pairs
from mcn.data.geometry import LetterboxMeta
from mcn.models import HEAD_KEYS

__all__ = ["soft_nms", "decode"]


def soft_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
             sigma: float = 0.5, score_threshold: float = 0.001
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class Gaussian soft-NMS.

    Repeatedly takes the highest-scoring box not yet taken and multiplies the score of
    every remaining box of the same class by ``exp(-IoU^2 / sigma)``.

    Args:
        boxes (N, 4), scores (N,), labels (N,) of one image.

    Returns:
        (keep, new_scores): indices into the inputs of the boxes whose decayed score is
        >= ``score_threshold``, best first, and those decayed scores.
    """
    num = scores.numel()
    same_class = labels[:, None] == labels[None, :]
    overlap = box_iou(boxes, boxes) * same_class  # other classes never suppress
    decay_of = torch.exp(-overlap**2 / sigma)  # decay_of[i, j]: what taking i does to j
    scores = scores.clone()
    taken = torch.zeros(num, dtype=torch.bool, device=scores.device)
    # Dropping boxes below the threshold on the way changes nothing: boxes are taken in
    # descending score, so a box below the threshold is only taken once all the others
    # are below it too. Hence a fixed number of rounds and one filter at the end.
    for _ in range(num):
        best = scores.masked_fill(taken, -torch.inf).argmax()
        taken[best] = True
        scores = torch.where(taken, scores, scores * decay_of[best])
    keep = torch.nonzero(scores >= score_threshold).flatten()
    order = scores[keep].argsort(descending=True, stable=True)
    keep = keep[order]
    return keep, scores[keep]


@torch.no_grad()
def decode(outputs: Mapping[str, torch.Tensor], k: int = 100, ae_threshold: float = 0.5,
           num_dets: int = 100, max_dets: int = 100, stride: int = 4, nms_kernel: int = 3,
           letterbox: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
           soft_nms_sigma: float | None = 0.5, score_threshold: float = 0.001,
           join_ratio: float | None = None) -> list[dict[str, torch.Tensor]]:
    """Detections of every image from the model's eval-mode output.

    Args:
        outputs: dict with tl_heat, br_heat (B, C, h, w) logits, tl_emb, br_emb
            (B, 1, h, w) and tl_off, br_off (B, 2, h, w).
        k: corners kept per type (top K over all classes; the paper uses 100).
        ae_threshold: largest embedding distance of a TL/BR pair of one object.
        num_dets: pairs kept per image before soft-NMS.
        max_dets: detections kept per image after soft-NMS.
        stride: output stride of the corner maps.
        nms_kernel: max-pooling window of the corner NMS.
        letterbox: per-image metadata {"scale", "pad", "orig_size"} (a list of B dicts,
            or one dict when B = 1) to map boxes back to the original image; None keeps
            input-pixel coordinates.
        soft_nms_sigma, score_threshold: Gaussian soft-NMS parameters; sigma None skips
            soft-NMS (to look at the raw pairs); the threshold applies either way.
        join_ratio: drop the pairs that join two objects' corners
            (``mcn.joins.joined_pairs`` with this ratio) before soft-NMS; None keeps them.

    Returns:
        one dict per image: boxes float32 (D, 4) xyxy, scores (D,) in [0, 1], labels
        int64 (D,), best first.
    """
    if not isinstance(outputs, Mapping):
        raise TypeError("decode expects the eval-mode output (one dict); for a training "
                        "-mode list of stacks pass its last element, outputs[-1]")
    missing = [name for name in HEAD_KEYS if name not in outputs]
    if missing:
        raise ValueError(f"decode: outputs lack {missing}")
    for name, value in (("k", k), ("num_dets", num_dets), ("max_dets", max_dets)):
        if int(value) < 1:
            raise ValueError(f"decode: {name} must be >= 1, got {value}")
    batch = outputs["tl_heat"].shape[0]
    if isinstance(letterbox, Mapping):
        letterbox = [letterbox]
    if letterbox is not None and len(letterbox) != batch:
        raise ValueError(f"letterbox has {len(letterbox)} entries for {batch} images")

    tl = top_corners(outputs["tl_heat"], outputs["tl_emb"], outputs["tl_off"], k, stride,
                     nms_kernel)
    br = top_corners(outputs["br_heat"], outputs["br_emb"], outputs["br_off"], k, stride,
                     nms_kernel)
    boxes, scores, labels = pair_corners(tl, br, ae_threshold, num_dets)

    results = []
    for i in range(batch):
        if join_ratio is not None:  # before soft-NMS, where a joined box lowers the signs' own
            joined = joined_pairs(boxes[i], scores[i], labels[i], join_ratio)
            scores[i] = scores[i].masked_fill(joined, -1.0)
        real = scores[i] >= 0
        img_boxes, img_scores, img_labels = boxes[i][real], scores[i][real], labels[i][real]
        if letterbox is not None:
            img_boxes = LetterboxMeta.from_dict(letterbox[i]).boxes_to_original(img_boxes)
            has_area = (img_boxes[:, 2] > img_boxes[:, 0]) & (img_boxes[:, 3] > img_boxes[:, 1])
            img_boxes, img_scores, img_labels = (img_boxes[has_area], img_scores[has_area],
                                                 img_labels[has_area])
        if soft_nms_sigma is None:  # no suppression: the pairs as scored, best first
            keep = torch.nonzero(img_scores >= score_threshold).flatten()
            new_scores = img_scores[keep]
        else:
            keep, new_scores = soft_nms(img_boxes, img_scores, img_labels, soft_nms_sigma,
                                        score_threshold)
        keep, new_scores = keep[:max_dets], new_scores[:max_dets]
        results.append({"boxes": img_boxes[keep], "scores": new_scores,
                        "labels": img_labels[keep]})
    return results
