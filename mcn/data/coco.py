"""COCO interchange: export any detection dataset to COCO JSON, read a COCO-format set.

The COCO format (Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014) is
what most labelling tools export, so it is the way in for readers' own data and the
way out to other detectors. Masks travel as run-length encoding (RLE) through
``pycocotools.mask``.

Decisions:

* Export writes masks as compressed RLE only. RLE reproduces a mask exactly;
  pycocotools rasterises polygons by their continuous outline, and a polygon traced
  through the centres of a mask's boundary pixels would come back half a pixel
  thinner all round. Import reads polygons, uncompressed and compressed RLE.
* Objects with ``iscrowd=1`` (one region covering a crowd of objects) are not
  instances: they go to the target's "ignore_boxes", as do objects whose category is
  not in the chosen class list.
* COCO boxes are [x, y, width, height]; targets use [x1, y1, x2, y2] (x2 = x + width).

Taught in chapter 2.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pycocotools.mask as mask_utils
import torch
from torch.utils.data import Dataset

from mcn.classes import resolve_classes
from mcn.data.images import load_image, save_image
from mcn.data.tt100k import empty_box_reason, make_target, object_mask, read_json
from mcn.data.tt100k_writer import classes_of, progress_bar


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def mask_to_rle(mask: np.ndarray | torch.Tensor) -> dict[str, Any]:
    """A bool mask (H, W) as COCO compressed RLE with a JSON-ready (str) "counts"."""
    array = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    rle = mask_utils.encode(array)
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _coco_image_id(image_id: Any, index: int) -> int:
    """COCO ids are integers: keep an int (or digit string) id, else number from 1."""
    if isinstance(image_id, int):
        return image_id
    if isinstance(image_id, str) and image_id.isdigit():
        return int(image_id)
    return index + 1


def to_coco(dataset: Any, classes: str | Sequence[str] | None = None,
            image_format: str = "jpg", image_dir: str | os.PathLike | None = None,
            jpeg_quality: int = 95, progress: bool = False) -> dict[str, Any]:
    """The dataset's annotations as a COCO dict (images, annotations, categories).

    Category ids are label + 1 (COCO reserves 0). Each annotation has "bbox" [x, y, w, h],
    "area" (mask pixels), "segmentation" (RLE) and "iscrowd" 0. The image "file_name" is
    "<image id>.<image_format>" ("jpg" or lossless "png"); with ``image_dir`` the images
    are written there during the same pass over the dataset.
    """
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format should be 'jpg' or 'png', got {image_format!r}")
    if image_dir is not None:
        Path(image_dir).mkdir(parents=True, exist_ok=True)
    names = classes_of(dataset, classes)
    coco: dict[str, Any] = {
        "info": {"description": "exported by mcn.data.coco",
                 "date_created": _dt.date.today().isoformat()},
        "licenses": [],
        "images": [], "annotations": [],
        "categories": [{"id": i + 1, "name": n, "supercategory": "object"}
                       for i, n in enumerate(names)],
    }
    seen: set[int] = set()
    for index in progress_bar(range(len(dataset)), progress, "COCO export"):
        image, target = dataset[index]
        coco_id = _coco_image_id(target.get("image_id", index), index)
        if coco_id in seen:
            raise ValueError(f"image id {coco_id} (item {index}) occurs twice; COCO needs "
                             f"unique integer ids")
        seen.add(coco_id)
        height, width = image.shape[1:]
        file_name = f"{coco_id}.{image_format}"
        coco["images"].append({"id": coco_id, "file_name": file_name,
                               "height": int(height), "width": int(width)})
        if image_dir is not None:
            save_image(Path(image_dir) / file_name, torch.as_tensor(image), jpeg_quality)
        coco["annotations"] += _annotations(target, coco_id, len(names),
                                            first_id=len(coco["annotations"]) + 1)
    return coco


def _annotations(target: dict[str, Any], image_id: int, num_classes: int,
                 first_id: int) -> list[dict[str, Any]]:
    boxes = torch.as_tensor(target["boxes"]).reshape(-1, 4).tolist()
    labels = torch.as_tensor(target["labels"]).reshape(-1).tolist()
    masks = target.get("masks")
    annotations = []
    for i, ((x1, y1, x2, y2), label) in enumerate(zip(boxes, labels)):
        if not 0 <= label < num_classes:
            raise ValueError(f"label {label} of image {image_id} is outside the "
                             f"{num_classes} classes")
        annotation = {"id": first_id + i, "image_id": image_id, "category_id": label + 1,
                      "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": 0,
                      "area": float((x2 - x1) * (y2 - y1))}
        if masks is not None:
            mask = masks[i].cpu().numpy()
            annotation["segmentation"] = mask_to_rle(mask)
            annotation["area"] = float(mask.sum())
        annotations.append(annotation)
    return annotations


def export_coco(dataset: Any, ann_file: str | os.PathLike,
                image_dir: str | os.PathLike | None = None,
                classes: str | Sequence[str] | None = None, image_format: str = "jpg",
                jpeg_quality: int = 95, progress: bool = False) -> Path:
    """Write the dataset's COCO JSON to ``ann_file`` and, if ``image_dir`` is given, the
    images there (``image_format`` "jpg" or lossless "png"). Returns ``ann_file``."""
    coco = to_coco(dataset, classes, image_format, image_dir, jpeg_quality, progress)
    ann_file = Path(ann_file)
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = ann_file.with_name(ann_file.name + ".tmp")
    tmp.write_text(json.dumps(coco), encoding="utf-8")
    os.replace(tmp, ann_file)
    return ann_file


# --------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------


def _load_coco(path: Path) -> dict[str, Any]:
    data = read_json(path, "COCO annotation file")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with images, annotations, categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{path}: \"{key}\" is missing or not a list (COCO format)")
    return data


def segmentation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, RLE or compressed RLE) as a bool mask (H, W)."""
    if isinstance(segmentation, list):  # polygons [[x0, y0, x1, y1, ...], ...]
        polygons = [p for p in segmentation if len(p) >= 6]
        if not polygons:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)  # uncompressed RLE
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
        counts = segmentation["counts"]
        rle = {"size": segmentation["size"],
               "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    else:
        raise ValueError(f"unknown segmentation form {type(segmentation).__name__}")
    with warnings.catch_warnings():
        # pycocotools 2.0.x warns about numpy 2's copy keyword inside decode; harmless.
        warnings.simplefilter("ignore", DeprecationWarning)
        mask = mask_utils.decode(rle).astype(bool)
    if mask.shape != (height, width):
        raise ValueError(f"segmentation of size {mask.shape} on an image of {(height, width)}")
    return mask


class CocoDetection(Dataset):
    """A COCO-format detection set in the project's item format.

    Items are ``(image uint8 (3, H, W) RGB, target)`` with "boxes" float32 (N, 4) xyxy
    clipped to the image, "labels" int64 (N,), "masks" bool (N, H, W) (from the
    segmentation; the box itself when an object has none), "ignore_boxes" float32
    (M, 4) (iscrowd objects and categories outside ``classes``) and "image_id" (COCO id).

    Args:
        ann_file: the COCO JSON. image_dir: folder the images' "file_name" is relative to.
        classes: category names to train on, in label order; None takes every category
            of the file ordered by category id.
        keep_empty: keep images without objects of the class list.
        skip_missing: leave out images whose file is missing (counted warning) instead
            of raising FileNotFoundError.
    """

    def __init__(self, ann_file: str | os.PathLike, image_dir: str | os.PathLike,
                 classes: str | Sequence[str] | None = None, keep_empty: bool = True,
                 skip_missing: bool = False):
        self.ann_file, self.image_dir = Path(ann_file), Path(image_dir)
        data = _load_coco(self.ann_file)
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"image folder {self.image_dir} not found")
        categories = {c["id"]: str(c["name"]) for c in data["categories"]}
        self.classes = (resolve_classes([categories[k] for k in sorted(categories)])
                        if classes is None else resolve_classes(classes))
        label_of = {name: i for i, name in enumerate(self.classes)}
        self._label = {cid: label_of.get(name, -1) for cid, name in categories.items()}

        by_image: dict[Any, list[dict]] = defaultdict(list)
        images = {}
        for record in data["images"]:
            if not all(k in record for k in ("id", "file_name")):
                raise ValueError(f"{self.ann_file}: image record {record} lacks id or file_name")
            images[record["id"]] = record
        for ann in data["annotations"]:
            self._check_annotation(ann, images, categories)
            by_image[ann["image_id"]].append(ann)

        self.problems: list[str] = []
        self.skipped: list[str] = []  # with skip_missing: the images left out, and why
        self._images, self._annotations = [], {}
        for image_id, record in images.items():
            path = self.image_dir / record["file_name"]
            if not path.is_file():
                message = f"image file {path} (id {image_id}) not found"
                if not skip_missing:
                    raise FileNotFoundError(message + "; pass skip_missing=True (--skip-bad on "
                                            "the command line) to leave it out")
                self.problems.append(message + "; skipped")
                self.skipped.append(message)
                continue
            anns = by_image.get(image_id, [])
            if not keep_empty and not any(self._is_instance(a) for a in anns):
                continue
            self._images.append(record)
            self._annotations[image_id] = anns
        if self.problems:
            warnings.warn(f"{self.ann_file}: {len(self.problems)} image(s) skipped, e.g. "
                          f"{self.problems[0]}", stacklevel=2)

    def _check_annotation(self, ann: Any, images: dict, categories: dict) -> None:
        where = f"{self.ann_file}, annotation {ann.get('id') if isinstance(ann, dict) else ann}"
        if not isinstance(ann, dict):
            raise ValueError(f"{where}: not a JSON object")
        if ann.get("image_id") not in images:
            raise ValueError(f"{where}: image_id {ann.get('image_id')} is not in \"images\"")
        if ann.get("category_id") not in categories:
            raise ValueError(f"{where}: category_id {ann.get('category_id')} is not in "
                             f"\"categories\"")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) for v in bbox)):
            raise ValueError(f"{where}: \"bbox\" should be [x, y, width, height], got {bbox!r}")
        if bbox[2] < 0 or bbox[3] < 0:
            raise ValueError(f"{where}: \"bbox\" has a negative width or height: {bbox}")

    def _is_instance(self, ann: dict) -> bool:
        return not ann.get("iscrowd", 0) and self._label[ann["category_id"]] >= 0

    def __len__(self) -> int:
        return len(self._images)

    def image_path(self, index: int) -> Path:
        """The image file of item ``index``."""
        return self.image_dir / self._images[index]["file_name"]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        record = self._images[index]
        image_id = record["id"]
        image = load_image(self.image_dir / record["file_name"], image_id=image_id)
        height, width = image.shape[1:]
        if (record.get("height", height), record.get("width", width)) != (height, width):
            raise ValueError(f"{self.ann_file}: image {image_id} is {height}x{width} on disk "
                             f"but {record['height']}x{record['width']} in the annotations")
        boxes, labels, masks, ignore = [], [], [], []
        for ann in self._annotations[image_id]:
            x, y, w, h = ann["bbox"]
            box = [min(max(v, 0.0), limit) for v, limit in
                   zip((x, y, x + w, y + h), (width, height, width, height))]
            if box[2] <= box[0] or box[3] <= box[1]:
                wrong = empty_box_reason((x, y, x + w, y + h), width, height)
                warnings.warn(f"{self.ann_file}, annotation {ann.get('id')}: box {ann['bbox']} "
                              f"{wrong}; left out")
                continue
            if not self._is_instance(ann):
                ignore.append(box)
                continue
            mask = (segmentation_mask(ann["segmentation"], height, width)
                    if ann.get("segmentation") else np.zeros((height, width), dtype=bool))
            if not mask.any():
                if ann.get("segmentation"):
                    warnings.warn(f"{self.ann_file}, annotation {ann.get('id')}: empty "
                                  f"segmentation; using the box as the mask")
                mask = object_mask(box, None, None, height, width)
            boxes.append(box)
            labels.append(self._label[ann["category_id"]])
            masks.append(mask)
        target = make_target(boxes, labels, masks, ignore, image_id, height, width)
        return image, target

    def __repr__(self) -> str:
        return (f"CocoDetection(ann_file={str(self.ann_file)!r}, classes={len(self.classes)} "
                f"names, images={len(self)})")
