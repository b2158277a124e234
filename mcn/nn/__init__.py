"""Layers of Mask-CornerNet, one concept per module:

* ``corner_pool``, ``CornerPool``   corner pooling (CornerNet)
* ``Fire``                          the fire module, plain or with SGE (CornerNet-Squeeze,
                                    Mask-CornerNet)
* ``SpatialGroupEnhance``           SGE attention (Li et al. 2019)
* ``Residual``, ``Stem``            residual block and the stride-4 stem
* ``Hourglass``                     the recursive fire-module hourglass
* ``em_iterations``, ``EMAU``,     EM attention (Li et al. 2019) and how much it attends
  ``attention_stats``
* ``MaskModule``                    Mask-CornerNet's segmentation-guided feature gate
* ``CornerHead``, ``CornerHeads``   heatmap / embedding / offset heads

Each module also has an analytic parameter count (``fire_params`` and friends) that the
tests check against the real layers and the book uses to explain where the weights are.

Taught in chapters 3 to 6.
"""

from mcn.nn.conv import (ConvBN, ConvBNReLU, SubsampledPointwiseConv, conv2d, conv_bn_params,
                         count_parameters)
from mcn.nn.corner_pool import DIRECTIONS, CornerPool, corner_pool, corner_pool_params
from mcn.nn.em_attention import EMAU, attention_stats, em_iterations, emau_params
from mcn.nn.fire import Fire, fire_params
from mcn.nn.heads import HEATMAP_BIAS, CornerHead, CornerHeads, corner_head_params, corner_heads_params
from mcn.nn.hourglass import Hourglass, hourglass_params
from mcn.nn.mask_module import MaskModule, mask_module_params
from mcn.nn.residual import Residual, residual_params
from mcn.nn.sge import SpatialGroupEnhance, sge_params
from mcn.nn.stem import STEM_STRIDE, STEM_STRIDES, Stem, stem_params

__all__ = [
    "DIRECTIONS",
    "HEATMAP_BIAS",
    "STEM_STRIDE",
    "STEM_STRIDES",
    "ConvBN",
    "ConvBNReLU",
    "CornerHead",
    "CornerHeads",
    "CornerPool",
    "EMAU",
    "Fire",
    "Hourglass",
    "MaskModule",
    "Residual",
    "SpatialGroupEnhance",
    "Stem",
    "SubsampledPointwiseConv",
    "conv2d",
    "conv_bn_params",
    "corner_head_params",
    "corner_heads_params",
    "corner_pool",
    "corner_pool_params",
    "count_parameters",
    "attention_stats",
    "em_iterations",
    "emau_params",
    "fire_params",
    "hourglass_params",
    "mask_module_params",
    "residual_params",
    "sge_params",
    "stem_params",
]
