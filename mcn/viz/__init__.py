"""Interactive views of Mask-CornerNet (Yang, Fan and Guo, "Anchor-free object detection
with mask attention", EURASIP J. Image Video Process. 2020): sliders and menus that look
inside a model. One view per module:

* ``heatmaps``     corner heatmaps per image, corner type, class and stack, with the
                   corners the decoder would keep (CornerNet, Law and Deng 2018)
* ``em``           EM attention inside the mask module, iteration by iteration (EMANet,
                   Li et al. 2019)
* ``pairs``        which TL/BR pairs the decoder keeps and why it rejects the others, and
                   what soft-NMS (Bodla et al. 2017) does to the kept ones
* ``corner_pool``  the four corner-pooling directions on a region of an image, and
                   what a trained model's corner pooling modules do to their features
* ``masks``        the mask module's segmentation next to the ground-truth mask
* ``outcomes``     detections on scenes as the TT100K protocol counts them: true
                   positives, false positives and missed signs
* ``size_curves``  accuracy-recall curves per size bin with a threshold's operating point

Every view is two layers. Pure functions (``run_model``, ``heatmap_data``, ``em_steps``,
``em_data``, ``pair_candidates``, ``pool_data``, ``trained_pool_data``, ``mask_data``,
``detection_outcomes``, ``size_curve_data`` and the ``*_figure`` functions) take a
state and return arrays or a matplotlib ``Figure``; they need no browser and are what the
tests check. The ``*_explorer`` functions wire ipywidgets controls to them and return an
``Explorer`` (``explorer``); ``run`` passes an image through the model once, ``draw``
holds the drawing helpers. Each view is taught where its idea is (chapters 5, 6, 8 and
10) and all of them are gathered in chapter 12.
"""

from mcn.corners import REJECTION_REASONS
from mcn.figures import figure_png
from mcn.viz.corner_pool import (POOL_FEATURES, corner_pool_explorer, corner_pool_figure,
                                 pool_data, region_feature, trained_pool_data,
                                 trained_pool_explorer, trained_pool_figure)
from mcn.viz.draw import base_colours, class_colours, draw_prediction, write_png
from mcn.viz.em import (em_data, em_explorer, em_figure, em_steps, responsibility_overlay,
                        sign_bases)
from mcn.viz.explorer import ALL_CLASSES, Explorer
from mcn.viz.heatmaps import CORNERS, heatmap_data, heatmap_explorer, heatmap_figure
from mcn.viz.masks import AGREEMENT, mask_data, mask_explorer, mask_figure
from mcn.viz.outcomes import OUTCOMES, detection_outcomes, outcomes_explorer, outcomes_figure
from mcn.viz.pairs import decode_explorer, decode_figure, pair_candidates
from mcn.viz.run import ModelRun, largest_sign, run_model, stack_names
from mcn.viz.size_curves import size_curve_data, size_curve_explorer, size_curve_figure

__all__ = [
    "AGREEMENT", "ALL_CLASSES", "CORNERS", "OUTCOMES", "POOL_FEATURES", "REJECTION_REASONS",
    "Explorer", "ModelRun", "base_colours", "class_colours", "corner_pool_explorer",
    "corner_pool_figure", "decode_explorer", "decode_figure", "detection_outcomes",
    "draw_prediction", "em_data", "em_explorer", "em_figure", "em_steps", "figure_png",
    "heatmap_data", "heatmap_explorer", "heatmap_figure", "largest_sign", "mask_data", "mask_explorer",
    "mask_figure", "outcomes_explorer", "outcomes_figure", "pair_candidates", "pool_data",
    "region_feature", "responsibility_overlay", "run_model", "sign_bases", "size_curve_data",
    "size_curve_explorer", "size_curve_figure", "stack_names", "trained_pool_data",
    "trained_pool_explorer", "trained_pool_figure", "write_png",
]
