"""Dataset statistics against counts made by hand."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mcn.data.stats import SIZE_BINS, dataset_stats, object_table, plot_stats
from mcn.data.tt100k import TT100K


def _obj(category, x1, y1, width, height):
    return {"category": category,
            "bbox": {"xmin": x1, "ymin": y1, "xmax": x1 + width, "ymax": y1 + height}}


# Long sides: pn 10, pn 31.9, pn 32, i5 50 (tall), i5 95, pl50 96, pl50 399, w57 400,
# and one image without objects. By hand:
#   counts: pn 3, i5 2, pl50 2, w57 1
#   small [0, 32): 10, 31.9 -> 2; medium [32, 96): 32, 50, 95 -> 3;
#   large [96, 400): 96, 399 -> 2; 400 is over the last bin.
ANNOTATIONS = {"types": ["pn", "i5", "pl50", "w57"], "imgs": {
    "1": {"path": "train/1.jpg", "id": 1, "objects": [
        _obj("pn", 0, 0, 10, 4), _obj("pn", 5, 5, 31.9, 20), _obj("i5", 0, 0, 20, 50)]},
    "2": {"path": "train/2.jpg", "id": 2, "objects": [
        _obj("pn", 1, 1, 32, 32), _obj("i5", 3, 3, 95, 10), _obj("pl50", 0, 0, 96, 96)]},
    "3": {"path": "train/3.jpg", "id": 3, "objects": [
        _obj("pl50", 0, 0, 399, 1), _obj("w57", 0, 0, 3, 400)]},
    "4": {"path": "train/4.jpg", "id": 4, "objects": []},
}}


def test_counts_and_size_bins_by_hand():
    stats = dataset_stats(ANNOTATIONS)
    assert stats["counts"].to_dict() == {"pn": 3, "i5": 2, "pl50": 2, "w57": 1}
    assert list(stats["counts"].index[:1]) == ["pn"]  # most frequent first
    assert stats["size_counts"] == {"small": 2, "medium": 3, "large": 2, "over_400": 1}
    assert stats["size_shares"] == pytest.approx({"small": 2 / 7, "medium": 3 / 7,
                                                  "large": 2 / 7})
    assert stats["num_images"] == 4 and stats["num_objects"] == 8
    assert stats["images_without_objects"] == 1
    assert stats["objects_per_image"] == 2.0
    assert set(SIZE_BINS) == {"small", "medium", "large"}


def test_histogram_bins_by_hand():
    hist = dataset_stats(ANNOTATIONS, bin_width=32, max_size=128)["histogram"]
    assert hist["low"].tolist() == [0, 32, 64, 96]
    # 10, 31.9 | 32, 50 | 95 | 96 ; 399 and 400 are beyond 128 and not counted.
    assert hist["count"].tolist() == [2, 2, 1, 1]


def test_class_filter_lists_zeros():
    stats = dataset_stats(ANNOTATIONS, classes=["i5", "p26", "pn"])
    assert stats["counts"].to_dict() == {"pn": 3, "i5": 2, "p26": 0}
    assert stats["num_objects"] == 5


def test_object_table_columns():
    table, num_images = object_table(ANNOTATIONS)
    assert num_images == 4 and len(table) == 8
    row = table[table["category"] == "i5"].iloc[0]
    assert (row["width"], row["height"], row["long_side"]) == (20, 50, 50)


class ToyDataset:
    """The same objects as ANNOTATIONS, as dataset items (images all black)."""

    classes = ("pn", "i5", "pl50", "w57")

    def __len__(self):
        return len(ANNOTATIONS["imgs"])

    def __getitem__(self, index):
        key = sorted(ANNOTATIONS["imgs"])[index]
        objects = ANNOTATIONS["imgs"][key]["objects"]
        boxes = [[o["bbox"][k] for k in ("xmin", "ymin", "xmax", "ymax")] for o in objects]
        return torch.zeros(3, 8, 8, dtype=torch.uint8), {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([self.classes.index(o["category"]) for o in objects],
                                   dtype=torch.int64),
            "image_id": int(key)}


def test_dataset_source_agrees_with_the_dict():
    from_dict, from_data = dataset_stats(ANNOTATIONS), dataset_stats(ToyDataset())
    assert from_data["counts"].to_dict() == from_dict["counts"].to_dict()
    assert from_data["size_counts"] == from_dict["size_counts"]
    assert from_data["images_without_objects"] == 1


def test_tt100k_split_is_read_without_images(tmp_path: Path):
    (tmp_path / "train").mkdir()
    (tmp_path / "annotations.json").write_text(json.dumps(ANNOTATIONS))
    (tmp_path / "train" / "ids.txt").write_text("1\n2\n3\n4\n")
    for key in ANNOTATIONS["imgs"]:
        cv2.imwrite(str(tmp_path / "train" / f"{key}.jpg"), np.zeros((4, 4, 3), np.uint8))
    split = TT100K(tmp_path, classes=["pn", "i5", "pl50", "w57"])
    assert dataset_stats(split)["counts"].to_dict() == {"pn": 3, "i5": 2, "pl50": 2, "w57": 1}
    # By default a split counts its own classes only, as iterating it would.
    split = TT100K(tmp_path, classes=["i5", "w57"])
    assert dataset_stats(split)["counts"].to_dict() == {"i5": 2, "w57": 1}


def test_plot_returns_a_figure():
    figure = plot_stats(dataset_stats(ANNOTATIONS), top=3)
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    assert len(figure.axes[0].patches) == 3  # one bar per shown class


def test_bad_sources():
    with pytest.raises(ValueError, match="TT100K form"):
        dataset_stats({"images": []})
    with pytest.raises(TypeError, match="classes"):
        dataset_stats([(torch.zeros(3, 2, 2), {"boxes": torch.zeros(0, 4)})])
