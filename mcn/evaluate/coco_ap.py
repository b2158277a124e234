"""COCO box AP of TT100K-form detections, computed by pycocotools.

Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014: AP averaged over IoU
0.50:0.95, so the numbers compare with other papers. The images and categories scored
are those of the TT100K protocol (Zhu et al., CVPR 2016). Taught in chapter 10.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

from mcn.data.tt100k_format import Annotations
from mcn.evaluate.protocol import ScoredImages, check_minscore, resolve_types, scored_images


_COCO_STATS = {"AP": 0, "AP50": 1, "AP75": 2, "AP_small": 3, "AP_medium": 4,
               "AP_large": 5, "AR100": 8}


def _coco_datasets(
    parsed: ScoredImages, types: tuple[str, ...], minscore: float | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """TT100K form -> (COCO ground-truth dataset, COCO detection annotations)."""
    category_id = {name: i + 1 for i, name in enumerate(types)}
    images = [{"id": k + 1, "file_name": i} for k, i in enumerate(parsed.image_ids)]
    gt_anns: list[dict[str, Any]] = []
    det_anns: list[dict[str, Any]] = []
    for k, (gt, det) in enumerate(zip(parsed.gt, parsed.det)):
        for objects, out in ((gt, gt_anns), (det, det_anns)):
            for box, name, score in zip(objects.boxes.tolist(), objects.categories,
                                        objects.scores.tolist()):
                if name not in category_id or (
                    out is det_anns and minscore is not None and score < minscore
                ):
                    continue
                w, h = box[2] - box[0], box[3] - box[1]
                # COCO needs ids > 0 (its matcher treats 0 as "unmatched"), and an area
                # for its size ranges: the box area here, as there are no masks.
                ann = {"id": len(out) + 1, "image_id": k + 1,
                       "category_id": category_id[name], "bbox": [box[0], box[1], w, h],
                       "area": w * h, "iscrowd": 0}
                if out is det_anns:
                    ann["score"] = score  # +inf for an unscored detection: ranked first
                out.append(ann)
    categories = [{"id": i, "name": name} for name, i in category_id.items()]
    return {"images": images, "categories": categories, "annotations": gt_anns}, det_anns


def coco_from_parsed(
    parsed: ScoredImages, types: tuple[str, ...], minscore: float | None
) -> dict[str, float | None]:
    """``coco_eval`` on images already read (``protocol.scored_images``)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_dataset, det_anns = _coco_datasets(parsed, types, minscore)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset = gt_dataset
        coco_gt.createIndex()
        # Built directly rather than by loadRes, which fails on an empty result list.
        coco_dt.dataset = {**gt_dataset, "annotations": det_anns}
        coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # pycocotools writes -1 where a size range has no ground truth: undefined, so None.
    return {name: (None if evaluator.stats[i] < 0 else float(evaluator.stats[i]))
            for name, i in _COCO_STATS.items()}


def coco_eval(
    gt: Annotations,
    results: Annotations,
    types: str | Sequence[str] | None = None,
    minscore: float | None = None,
) -> dict[str, float | None]:
    """COCO box metrics of ``results`` against ``gt`` (both TT100K form) via pycocotools.

    Scores the images in ``results`` only and the categories of ``types`` only (their
    index + 1 is the COCO category id), as the TT100K protocol does. ``minscore``
    defaults to None: AP ranks every detection by score, so no threshold is applied.
    COCO's size ranges are by area (small up to 32^2, medium 32^2 to 96^2, large above,
    in px^2; pycocotools includes both ends of each range), not by long side as TT100K's
    are, so AP_small and TT100K's "small" count different signs. An unscored detection
    ranks above every scored one.

    Returns:
        dict AP (IoU 0.50:0.95), AP50, AP75, AP_small, AP_medium, AP_large, AR100; None
        where a size range holds no ground truth.
    """
    if minscore is not None:
        minscore = check_minscore(minscore)
    return coco_from_parsed(scored_images(gt, results), resolve_types(types), minscore)
