"""COCO interchange: export then import round trip, reading hand-written COCO files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from mcn.data.coco import (
    CocoDetection, export_coco, mask_to_rle, segmentation_mask, to_coco,
)

H, W = 36, 50


class ToyDataset:
    """Images with drawn rectangles and discs (one more object per item)."""

    classes = ("pn", "pl50", "i5")

    def __len__(self):
        return 3

    def __getitem__(self, index):
        image = np.zeros((H, W, 3), dtype=np.uint8)
        image[..., 1] = np.linspace(0, 90, W, dtype=np.uint8)
        masks, boxes, labels = [], [], []
        for k in range(index + 1):
            mask = np.zeros((H, W), dtype=np.uint8)
            x, y = 4 + 14 * k, 3 + 10 * k
            if k % 2:
                cv2.circle(mask, (x + 5, y + 5), 5, 1, -1)
            else:
                cv2.rectangle(mask, (x, y), (x + 8, y + 5), 1, -1)
            ys, xs = np.nonzero(mask)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            masks.append(mask.astype(bool))
            labels.append((index + k) % 3)
            image[mask.astype(bool)] = (220, 20, 20 + 60 * k)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), {
            "boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels),
            "masks": torch.from_numpy(np.stack(masks)), "image_id": 10 + index}


def test_export_then_import_gives_the_same_items(tmp_path: Path):
    toy = ToyDataset()
    ann = export_coco(toy, tmp_path / "ann.json", image_dir=tmp_path / "images",
                      image_format="png")
    data = CocoDetection(ann, tmp_path / "images")
    assert data.classes == ToyDataset.classes and len(data) == len(toy)
    for index in range(len(toy)):
        image, target = data[index]
        image0, target0 = toy[index]
        assert torch.equal(image, image0)  # PNG is lossless
        assert target["image_id"] == target0["image_id"]
        assert torch.allclose(target["boxes"], target0["boxes"])
        assert torch.equal(target["labels"], target0["labels"])
        assert torch.equal(target["masks"], target0["masks"])  # RLE is exact
        assert target["ignore_boxes"].shape == (0, 4)


# pycocotools 2.0.x on numpy 2 warns inside annToMask; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_exported_file_is_read_by_pycocotools(tmp_path: Path):
    toy = ToyDataset()
    export_coco(toy, tmp_path / "ann.json")
    coco = COCO(str(tmp_path / "ann.json"))
    assert sorted(coco.getImgIds()) == [10, 11, 12]
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(ToyDataset.classes)
    _, target = toy[2]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=12))
    for ann, box, mask, label in zip(anns, target["boxes"], target["masks"], target["labels"]):
        x1, y1, x2, y2 = box.tolist()
        assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
        assert ann["category_id"] == int(label) + 1
        assert ann["area"] == int(mask.sum())
        assert np.array_equal(coco.annToMask(ann).astype(bool), mask.numpy())


def _write_coco(root: Path, annotations: list, images=None, categories=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    images = images or [{"id": 1, "file_name": "a.png", "height": H, "width": W}]
    for record in images:
        cv2.imwrite(str(root / record["file_name"]), np.zeros((H, W, 3), np.uint8))
    categories = categories or [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"},
                                {"id": 9, "name": "fox"}]
    path = root / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": categories}))
    return path


def test_polygons_rle_crowd_and_unlisted_categories(tmp_path: Path):
    square = [10, 10, 20, 10, 20, 20, 10, 20]  # pixels 10..19 in both directions
    strip = np.zeros((H, W), dtype=np.uint8)
    strip[2:5, 30:40] = 1
    counts, value, run = [], 0, 0  # uncompressed RLE, column-major, written by hand
    for v in strip.flatten(order="F"):
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    anns = [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 10, 10],
         "segmentation": [square], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 7, "bbox": [30, 2, 10, 3],
         "segmentation": {"size": [H, W], "counts": counts}, "iscrowd": 0},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [0, 25, 8, 8], "iscrowd": 1,
         "segmentation": {"size": [H, W], "counts": counts}},
        {"id": 4, "image_id": 1, "category_id": 9, "bbox": [40, 20, 5, 5], "iscrowd": 0},
        {"id": 5, "image_id": 1, "category_id": 7, "bbox": [44, 30, 10, 10], "iscrowd": 0},
    ]
    ann = _write_coco(tmp_path, anns)
    _, target = CocoDetection(ann, tmp_path, classes=["dog", "cat"])[0]
    assert target["labels"].tolist() == [1, 0, 0]
    assert target["boxes"].tolist() == [[10, 10, 20, 20], [30, 2, 40, 5], [44, 30, 50, 36]]
    expected_square = np.zeros((H, W), dtype=bool)
    expected_square[10:20, 10:20] = True
    assert np.array_equal(target["masks"][0].numpy(), expected_square)
    assert np.array_equal(target["masks"][1].numpy(), strip.astype(bool))
    # No segmentation: the clipped box is the mask (columns 44..49, rows 30..35).
    assert target["masks"][2].sum() == 6 * 6
    # The crowd region and the fox (not in the class list) are ignore regions.
    assert sorted(target["ignore_boxes"].tolist()) == [[0, 25, 8, 33], [40, 20, 45, 25]]
    all_classes = CocoDetection(ann, tmp_path)
    assert all_classes.classes == ("cat", "dog", "fox")  # ordered by category id


def test_segmentation_mask_forms_agree():
    mask = np.zeros((H, W), dtype=bool)
    mask[5:9, 7:20] = True
    compressed = mask_to_rle(mask)
    assert isinstance(compressed["counts"], str)  # JSON-ready
    assert np.array_equal(segmentation_mask(compressed, H, W), mask)
    with pytest.raises(ValueError, match="segmentation"):
        segmentation_mask(42, H, W)


def test_keep_empty_false_drops_images_without_instances(tmp_path: Path):
    images = [{"id": 1, "file_name": "a.png", "height": H, "width": W},
              {"id": 2, "file_name": "b.png", "height": H, "width": W}]
    anns = [{"id": 1, "image_id": 2, "category_id": 3, "bbox": [1, 1, 4, 4]}]
    ann = _write_coco(tmp_path, anns, images)
    assert len(CocoDetection(ann, tmp_path)) == 2
    kept = CocoDetection(ann, tmp_path, keep_empty=False)
    assert len(kept) == 1 and kept[0][1]["image_id"] == 2


def test_bad_input_names_the_culprit(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        CocoDetection(tmp_path / "missing.json", tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        CocoDetection(tmp_path / "bad.json", tmp_path)
    ann = _write_coco(tmp_path / "a", [{"id": 8, "image_id": 1, "category_id": 3}])
    with pytest.raises(ValueError, match="annotation 8.*bbox"):
        CocoDetection(ann, tmp_path / "a")
    ann = _write_coco(tmp_path / "b", [{"id": 9, "image_id": 5, "category_id": 3,
                                        "bbox": [1, 1, 2, 2]}])
    with pytest.raises(ValueError, match="annotation 9.*image_id 5"):
        CocoDetection(ann, tmp_path / "b")
    ann = _write_coco(tmp_path / "c", [])
    (tmp_path / "c" / "a.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"a\.png \(id 1\)"):
        CocoDetection(ann, tmp_path / "c")
    with pytest.warns(UserWarning, match="1 image"):
        assert len(CocoDetection(ann, tmp_path / "c", skip_missing=True)) == 0


def test_to_coco_rejects_labels_outside_the_classes():
    class Bad(ToyDataset):
        classes = ("only",)
    with pytest.raises(ValueError, match="outside the 1 classes"):
        to_coco(Bad())


def test_a_zero_size_box_is_not_called_outside_the_image(tmp_path: Path):
    ann = _write_coco(tmp_path, [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [4, 4, 0, 5]},
                                 {"id": 2, "image_id": 1, "category_id": 3, "bbox": [500, 4, 5, 5]}])
    with pytest.warns(UserWarning) as caught:
        _, target = CocoDetection(ann, tmp_path)[0]
    messages = [str(w.message) for w in caught]
    assert any("annotation 1: box [4, 4, 0, 5] has zero width or height" in m for m in messages)
    assert any("annotation 2: box" in m and "lies outside the" in m for m in messages)
    assert len(target["boxes"]) == 0
    assert CocoDetection(ann, tmp_path).image_path(0) == tmp_path / "a.png"
