"""Scoring traffic-sign detections: the TT100K protocol, its curves, mAP and COCO AP.

* ``protocol``  ``tt100k_eval``: accuracy and recall by TT100K's rules, per size bin
* ``curves``    ``pr_curves``, ``PRCurve``: accuracy-recall curves and their area (mAP)
* ``coco_ap``   ``coco_eval``: COCO AP through pycocotools
* ``summary``   ``evaluate_all``, ``tt100k_summary``, ``score_model``: all at once

Detections and ground truth are read in TT100K's JSON form (``mcn.data.tt100k_format``).
Taught in chapter 10.
"""

from mcn.data.tt100k_format import Annotations, tt100k_objects, write_results
from mcn.evaluate.coco_ap import coco_eval
from mcn.evaluate.curves import PRCurve, plot_pr_curves, plot_pr_panels, pr_curves
from mcn.evaluate.protocol import OFFICIAL_SIZE_BINS, size_bins, tt100k_eval
from mcn.evaluate.summary import evaluate_all, score_model, tt100k_summary, write_metrics

__all__ = [
    "OFFICIAL_SIZE_BINS", "Annotations", "PRCurve", "coco_eval", "evaluate_all", "plot_pr_curves",
    "plot_pr_panels", "pr_curves", "score_model", "size_bins", "tt100k_eval", "tt100k_objects",
    "tt100k_summary", "write_metrics", "write_results",
]
