"""Interactive views of Mask-CornerNet (Yang, Fan and Guo, "Anchor-free object detection
with mask attention", EURASIP J. Image Video Process. 2020): sliders and menus that look
inside a model. One view per module:

* ``heatmaps``     corner heatmaps per image, corner type, class and stack, with the
                   corners the decoder would keep (CornerNet, Law and Deng 2018)
* ``em``           EM attention inside the mask module, iteration by iteration (EMANet,
                   Li et al. 2019)
* ``pairs``        which TL/BR pairs the decoder keeps and why it rejects the others, and
                   what soft-NMS (Bodla et al. 2017) does to the kept ones
* ``corner_pool``  the four corner-pooling directions on a region of an image

Every view is two layers. Pure functions (``run_model``, ``heatmap_data``, ``em_steps``,
``em_data``, ``pair_candidates``, ``pool_data`` and the ``*_figure`` functions) take a
state and return arrays or a matplotlib ``Figure``; they need no browser and are what the
tests check. The ``*_explorer`` functions wire ipywidgets controls to them and return an
``Explorer`` (``explorer``); ``run`` passes an image through the model once, ``draw``
holds the drawing helpers. Taught in chapter 12.
"""

from mcn.corners import REJECTION_REASONS
from mcn.figures import figure_png
from mcn.viz.corner_pool import (POOL_FEATURES, corner_pool_explorer, corner_pool_figure,
                                 pool_data, region_feature)
from mcn.viz.draw import base_colours, draw_prediction, write_png
from mcn.viz.em import em_data, em_explorer, em_figure, em_steps, responsibility_overlay
from mcn.viz.explorer import ALL_CLASSES, Explorer
from mcn.viz.heatmaps import CORNERS, heatmap_data, heatmap_explorer, heatmap_figure
from mcn.viz.pairs import decode_explorer, decode_figure, pair_candidates
from mcn.viz.run import ModelRun, run_model, stack_names

__all__ = [
    "ALL_CLASSES", "CORNERS", "POOL_FEATURES", "REJECTION_REASONS", "Explorer", "ModelRun",
    "base_colours", "corner_pool_explorer", "corner_pool_figure", "decode_explorer",
    "decode_figure", "draw_prediction", "em_data", "em_explorer", "em_figure", "em_steps", "figure_png",
    "heatmap_data", "heatmap_explorer", "heatmap_figure", "pair_candidates", "pool_data",
    "region_feature", "responsibility_overlay", "run_model", "stack_names", "write_png",
]
