"""Traffic-sign data: synthetic TT100K-style scenes, the real TT100K loader, COCO
interchange, augmentation, collation, statistics and the up-front check of a data set
(``mcn.data.check``).

Every dataset yields ``(image, target)``: image uint8 (3, H, W) RGB; target with
"boxes" float32 (N, 4) xyxy pixels, "labels" int64 (N,), "masks" bool (N, H, W) and
"image_id". Taught in chapter 2; the sources and the training stream in chapter 9.
"""

from mcn.data.coco import CocoDetection, export_coco
from mcn.data.collate import collate
from mcn.data.images import load_image
from mcn.data.signs import draw_sign
from mcn.data.stats import dataset_stats, plot_stats
from mcn.data.synthetic import SyntheticSigns
from mcn.data.transforms import (
    TransformedDataset,
    denormalize,
    eval_transform,
    normalize,
    train_transform,
)
from mcn.data.tt100k import TT100K
from mcn.data.tt100k_writer import write_tt100k

__all__ = [
    "CocoDetection",
    "SyntheticSigns",
    "TT100K",
    "TransformedDataset",
    "collate",
    "load_image",
    "dataset_stats",
    "denormalize",
    "draw_sign",
    "eval_transform",
    "export_coco",
    "normalize",
    "plot_stats",
    "train_transform",
    "write_tt100k",
]
