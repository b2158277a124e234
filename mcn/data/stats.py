"""Dataset statistics: objects per class and the long-side size distribution.

The Mask-CornerNet paper (Yang, Fan and Guo, 2020, Fig. 6) motivates its design with
two counts over TT100K: how many objects each category has, and how large they are.
Size is the box's long side, max(width, height), binned as in the TT100K evaluation
(Zhu et al., CVPR 2016): small [0, 32), medium [32, 96), large [96, 400) pixels; on
TT100K's test set 37.9 %, 52.2 % and 9.9 % of the signs (``mcn.classes.SIZE_SHARES``).

Any source works: a dataset of (image, target) items (its images are produced or
decoded while iterating), a dict in TT100K JSON form ({"imgs": {id: {"objects": ...}}}),
or an ``mcn.data.tt100k.TT100K`` split, read from its annotations without decoding
a single image. Taught in chapter 2.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from mcn.classes import SIZE_BINS, resolve_classes
from mcn.figures import new_figure
_COLUMNS = ["image_id", "category", "x1", "y1", "x2", "y2"]


def _rows_from_tt100k(annotations: Mapping[str, Any], keep: set[str] | None) -> tuple[list, int]:
    rows = []
    for key, record in annotations["imgs"].items():
        for obj in record.get("objects", []):
            if keep is not None and obj["category"] not in keep:
                continue
            b = obj["bbox"]
            rows.append([key, obj["category"], b["xmin"], b["ymin"], b["xmax"], b["ymax"]])
    return rows, len(annotations["imgs"])


def _rows_from_dataset(dataset: Any, names: Sequence[str], keep: set[str] | None,
                       progress: bool) -> tuple[list, int]:
    indices = range(len(dataset))
    if progress:
        from tqdm.auto import tqdm
        indices = tqdm(indices, desc="statistics")
    rows = []
    for index in indices:
        _, target = dataset[index]
        boxes = torch.as_tensor(target["boxes"]).reshape(-1, 4).tolist()
        labels = torch.as_tensor(target["labels"]).reshape(-1).tolist()
        for box, label in zip(boxes, labels):
            if keep is None or names[label] in keep:
                rows.append([target.get("image_id", index), names[label], *box])
    return rows, len(dataset)


def object_table(source: Any, classes: str | Sequence[str] | None = None,
                 progress: bool = False) -> tuple[pd.DataFrame, int]:
    """One row per object and the number of images.

    Columns: image_id, category, x1, y1, x2, y2, width, height, long_side. ``classes``
    keeps only those categories; by default every category of a TT100K dict, and the
    ``classes`` of a dataset (which must have that attribute) or of a TT100K split.
    """
    keep = set(resolve_classes(classes)) if classes is not None else None
    if hasattr(source, "tt100k_json"):  # a TT100K split: its annotations, no images
        if keep is None:
            keep = set(source.classes)  # what iterating the split would give
        rows, num_images = _rows_from_tt100k(source.tt100k_json(), keep)
    elif isinstance(source, Mapping):
        if not isinstance(source.get("imgs"), Mapping):
            raise ValueError("a dict source should be in TT100K form: {\"imgs\": {id: record}}")
        rows, num_images = _rows_from_tt100k(source, keep)
    else:
        if not hasattr(source, "classes"):
            raise TypeError(f"{type(source).__name__} has no .classes to name its labels; "
                            f"pass a TT100K-form dict or a dataset with .classes")
        rows, num_images = _rows_from_dataset(source, resolve_classes(source.classes), keep,
                                              progress)
    table = pd.DataFrame(rows, columns=_COLUMNS)
    table[["x1", "y1", "x2", "y2"]] = table[["x1", "y1", "x2", "y2"]].astype(float)
    table["width"] = table["x2"] - table["x1"]
    table["height"] = table["y2"] - table["y1"]
    table["long_side"] = table[["width", "height"]].max(axis=1)
    return table, num_images


def dataset_stats(source: Any, classes: str | Sequence[str] | None = None,
                  bin_width: float = 8.0, max_size: float = 400.0,
                  progress: bool = False) -> dict[str, Any]:
    """Per-class counts and the long-side size histogram (the paper's Fig. 6).

    Returns a dict with

    - "objects": the per-object DataFrame of ``object_table``;
    - "counts": Series, objects per category, most frequent first (with ``classes``
      given, every listed category appears, zeros included);
    - "histogram": DataFrame with columns low, high, count over [0, max_size) in steps
      of ``bin_width``;
    - "size_shares": share of each SIZE_BINS bin among objects smaller than 400 px;
    - "size_counts": objects per bin, plus "over_400";
    - "num_images", "num_objects", "images_without_objects", "objects_per_image".
    """
    table, num_images = object_table(source, classes, progress)
    counts = table["category"].value_counts()
    if classes is not None:
        counts = counts.reindex(resolve_classes(classes), fill_value=0)
    counts = counts.sort_values(ascending=False, kind="stable").astype(int)
    counts.name = "objects"

    edges = np.arange(0.0, max_size + bin_width, bin_width)
    sizes = table["long_side"].to_numpy()
    hist, _ = np.histogram(sizes[sizes < edges[-1]], bins=edges)
    histogram = pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": hist})

    size_counts = {name: int(((table["long_side"] >= lo) & (table["long_side"] < hi)).sum())
                   for name, (lo, hi) in SIZE_BINS.items()}
    in_range = sum(size_counts.values())
    shares = {name: (n / in_range if in_range else 0.0) for name, n in size_counts.items()}
    size_counts["over_400"] = int((table["long_side"] >= SIZE_BINS["large"][1]).sum())
    images_with = table["image_id"].astype(str).nunique()
    return {
        "objects": table, "counts": counts, "histogram": histogram,
        "size_shares": shares, "size_counts": size_counts,
        "num_images": num_images, "num_objects": len(table),
        "images_without_objects": num_images - images_with,
        "objects_per_image": len(table) / num_images if num_images else 0.0,
    }


def plot_stats(stats: Mapping[str, Any], top: int | None = None,
               title: str | None = None) -> Figure:
    """Fig. 6 style: objects per class (bars) above the long-side histogram.

    The histogram shades the small / medium / large bins and labels each with its share.
    ``top`` keeps only the most frequent classes. Returns a matplotlib Figure (not
    shown; in a notebook it displays as the cell's value).
    """
    counts = stats["counts"] if top is None else stats["counts"].head(top)
    figure = new_figure(10, 6.5)
    ax_counts, ax_sizes = figure.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1]})

    ax_counts.bar(range(len(counts)), counts.to_numpy(), color="tab:blue")
    ax_counts.set_xticks(range(len(counts)), counts.index, rotation=90, fontsize=7)
    ax_counts.set_xlim(-0.6, len(counts) - 0.4)
    ax_counts.set_ylabel("objects")
    ax_counts.set_title(title or f"{stats['num_objects']} objects in {stats['num_images']} "
                                 f"images, {stats['objects_per_image']:.2f} per image")

    histogram = stats["histogram"]
    ax_sizes.bar(histogram["low"], histogram["count"], width=histogram["high"] - histogram["low"],
                 align="edge", color="tab:gray")
    colours = {"small": "tab:red", "medium": "tab:orange", "large": "tab:green"}
    for name, (low, high) in SIZE_BINS.items():
        ax_sizes.axvspan(low, high, color=colours[name], alpha=0.12)
        ax_sizes.text((low + high) / 2, 0.95, f"{name}\n{100 * stats['size_shares'][name]:.1f} %",
                      transform=ax_sizes.get_xaxis_transform(), ha="center", va="top",
                      bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})
    ax_sizes.set_xlim(0, float(histogram["high"].iloc[-1]))
    ax_sizes.set_xlabel("long side of the box (pixels)")
    ax_sizes.set_ylabel("objects")
    return figure
