"""Tsinghua-Tencent 100K (TT100K): read the real annotation layout, and write any dataset in it.

Zhu, Liang, Zhang, Huang, Li and Hu, "Traffic-Sign Detection and Classification in the
Wild", CVPR 2016, published TT100K; the Mask-CornerNet paper (Yang, Fan and Guo, 2020)
trains and tests on it with 42 classes. The layout::

    root/annotations.json     {"types": [...], "imgs": {"<id>": {"path": "train/<id>.jpg",
                                 "id": <id>, "objects": [{"category", "bbox", ...}]}}}
    root/train/ids.txt        one image id per line
    root/train/<id>.jpg       the images (2048 x 2048 in the real set)
    root/test/..., root/other/...

An object carries a box ``{"xmin", "ymin", "xmax", "ymax"}`` and optionally a
``"polygon"`` (list of points), an ``"ellipse"`` (OpenCV's rotated-rectangle form
``[[cx, cy], [w, h], angle_deg]``) and ``"ellipse_org"`` (the points the annotator clicked
on the ellipse). The instance mask is box AND polygon AND ellipse, each where present.

Coordinates are continuous image coordinates: pixel (row i, column j) covers
[j, j+1) x [i, i+1), so its centre is (j + 0.5, i + 0.5). The box mask keeps the pixels
whose centre lies in the box (a box always keeps at least the pixel holding its centre).
Polygons and ellipses are rasterised with OpenCV, whose filling rule counts a pixel when
its centre lies inside or within half a pixel of the outline; AND-ing with the box keeps
the mask inside the box.

``mcn.data.tt100k_writer`` writes any dataset in this layout, so the synthetic set is a
drop-in stand-in for the real one. Taught in chapter 2.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mcn.classes import resolve_classes
from mcn.data.images import load_image

ANNOTATION_FILE = "annotations.json"
IDS_FILE = "ids.txt"
_SUBPIXEL_BITS = 4  # OpenCV draws with 1/16-pixel precision when given fixed-point points


@dataclass
class _Object:
    """One parsed annotation: a validated box plus its optional outlines."""

    category: str
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax (unclipped)
    polygon: np.ndarray | None  # (P, 2) float, continuous coordinates
    ellipse: tuple | None  # ((cx, cy), (w, h), angle_deg)


# ------------------------------------------------------ reading annotations.json and ids.txt


def read_ids(path: str | os.PathLike) -> list[str]:
    """The image ids in a TT100K ``ids.txt``: one per line, blank lines ignored."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} not found (TT100K keeps one id per line "
                                f"in <root>/<split>/{IDS_FILE})")
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    ids = [i for i in ids if i]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise ValueError(f"{path} lists these ids more than once: {', '.join(duplicates[:10])}")
    return ids


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; a missing file or bad JSON is an error naming the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None


def read_annotations(path: str | os.PathLike) -> dict:
    """Load a TT100K ``annotations.json`` and check its top-level structure."""
    path = Path(path)
    data = read_json(path, "annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("imgs"), dict):
        raise ValueError(f"{path}: expected a JSON object with an \"imgs\" mapping "
                         f"(id -> image record), as in TT100K's annotations.json")
    if not isinstance(data.get("types", []), list):
        raise ValueError(f"{path}: \"types\" must be a list of category names")
    return data


def _numbers(value: Any, count: int | None, where: str, field: str) -> list[float]:
    """``value`` as a list of finite floats (of length ``count`` if given), or ValueError."""
    if not isinstance(value, (list, tuple)) or (count is not None and len(value) != count):
        size = f"{count} numbers" if count is not None else "a list of numbers"
        raise ValueError(f"{where}: \"{field}\" should be {size}, got {value!r}")
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: \"{field}\" holds a non-number: {value!r}") from None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{where}: \"{field}\" holds NaN or infinity: {value!r}")
    return numbers


def _parse_box(obj: dict, where: str) -> tuple[float, float, float, float]:
    bbox = obj.get("bbox")
    if not isinstance(bbox, dict):
        raise ValueError(f"{where}: object has no \"bbox\" (expected "
                         f"{{\"xmin\", \"ymin\", \"xmax\", \"ymax\"}})")
    missing = [k for k in ("xmin", "ymin", "xmax", "ymax") if k not in bbox]
    if missing:
        raise ValueError(f"{where}: \"bbox\" lacks {', '.join(missing)}")
    x1, y1, x2, y2 = _numbers([bbox[k] for k in ("xmin", "ymin", "xmax", "ymax")], 4,
                              where, "bbox")
    if x2 < x1 or y2 < y1:
        raise ValueError(f"{where}: \"bbox\" has xmax < xmin or ymax < ymin: {bbox}")
    return x1, y1, x2, y2


def _parse_points(value: Any, where: str, field: str) -> np.ndarray:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: \"{field}\" should be a list of [x, y] points")
    points = [_numbers(p, 2, where, field) for p in value]
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def _parse_ellipse(obj: dict, where: str, problems: list[str]) -> tuple | None:
    """The rotated rectangle of the object's ellipse, from "ellipse" or "ellipse_org"."""
    if "ellipse" in obj:
        value = obj["ellipse"]
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise ValueError(f"{where}: \"ellipse\" should be [[cx, cy], [w, h], angle], "
                             f"got {value!r}")
        (cx, cy), (w, h) = (_numbers(value[0], 2, where, "ellipse"),
                            _numbers(value[1], 2, where, "ellipse"))
        angle = _numbers([value[2]], 1, where, "ellipse")[0]
        if w <= 0 or h <= 0:
            problems.append(f"{where}: ellipse with zero size ignored")
            return None
        return (cx, cy), (w, h), angle
    if "ellipse_org" in obj:
        points = _parse_points(obj["ellipse_org"], where, "ellipse_org")
        if len(points) < 5:  # cv2.fitEllipse needs five points
            problems.append(f"{where}: \"ellipse_org\" has fewer than 5 points, ignored")
            return None
        (cx, cy), (w, h), angle = cv2.fitEllipse(points.astype(np.float32))
        return (cx, cy), (w, h), angle
    return None


def _parse_object(obj: Any, where: str, problems: list[str]) -> _Object:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: an object should be a JSON object, got {obj!r}")
    if not isinstance(obj.get("category"), str):
        raise ValueError(f"{where}: object has no \"category\" string")
    box = _parse_box(obj, where)
    polygon = None
    if "polygon" in obj:
        polygon = _parse_points(obj["polygon"], where, "polygon")
        if len(polygon) < 3:
            problems.append(f"{where}: polygon with fewer than 3 points ignored")
            polygon = None
    ellipse = _parse_ellipse(obj, where, problems)
    return _Object(obj["category"], box, polygon, ellipse)


def parse_image_id(key: str) -> int | str:
    """TT100K ids are numbers; keep them as int (as the "id" field does), else as str."""
    return int(key) if key.isdigit() else key


# ------------------------------------------------------------------ rasterising one object


def _pixel_range(lo: float, hi: float, size: int) -> tuple[int, int]:
    """The pixels [first, stop) whose centre (k + 0.5) lies in [lo, hi), within [0, size)."""
    first, stop = math.ceil(lo - 0.5), math.ceil(hi - 0.5)
    if stop <= first:  # thinner than a pixel: keep the pixel holding the centre
        first = math.floor((lo + hi) / 2)
        stop = first + 1
    return max(first, 0), min(stop, size)


def _to_fixed_point(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SUBPIXEL_BITS)).astype(np.int32)


def make_target(boxes: list, labels: list, masks: list, ignore: list, image_id: Any,
                height: int, width: int) -> dict[str, Any]:
    """The dataset target dict from per-object lists (boxes xyxy, labels, bool HxW masks)
    and the ignore regions; an image without objects gets empty (0, ...) tensors."""
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "masks": (torch.from_numpy(np.stack(masks)) if masks
                  else torch.zeros((0, height, width), dtype=torch.bool)),
        "ignore_boxes": torch.tensor(ignore, dtype=torch.float32).reshape(-1, 4),
        "image_id": image_id,
    }


def object_mask(box: Sequence[float], polygon: np.ndarray | None, ellipse: tuple | None,
                height: int, width: int) -> np.ndarray:
    """The instance mask, box AND polygon AND ellipse, as a bool array (height, width).

    ``box`` is (x1, y1, x2, y2), ``polygon`` (P, 2) points and ``ellipse``
    ((cx, cy), (w, h), angle_deg), all in continuous image coordinates. The shapes are
    drawn on a canvas covering only the box, so the cost does not grow with the image.
    """
    mask = np.zeros((height, width), dtype=bool)
    c0, c1 = _pixel_range(box[0], box[2], width)
    r0, r1 = _pixel_range(box[1], box[3], height)
    if c1 <= c0 or r1 <= r0:
        return mask  # the box lies outside the image
    inside = np.ones((r1 - r0, c1 - c0), dtype=bool)
    # OpenCV's integer coordinates are pixel centres: continuous x maps to x - 0.5.
    origin = np.array([c0 + 0.5, r0 + 0.5])
    if polygon is not None:
        canvas = np.zeros(inside.shape, dtype=np.uint8)
        cv2.fillPoly(canvas, [_to_fixed_point(polygon - origin)], 1, cv2.LINE_8,
                     _SUBPIXEL_BITS)
        inside &= canvas.astype(bool)
    if ellipse is not None:
        (cx, cy), (w, h), angle = ellipse
        canvas = np.zeros(inside.shape, dtype=np.uint8)
        centre = (float(cx - origin[0]), float(cy - origin[1]))
        cv2.ellipse(canvas, (centre, (float(w), float(h)), float(angle)), 1, -1)
        inside &= canvas.astype(bool)
    mask[r0:r1, c0:c1] = inside
    return mask


# ----------------------------------------------------------------------------- the dataset


class TT100K(Dataset):
    """One split of TT100K (or of anything written by ``write_tt100k``) as a dataset.

    Items are ``(image, target)``: image uint8 (3, H, W) RGB; target with "boxes"
    float32 (N, 4) xyxy clipped to the image, "labels" int64 (N,) indices into
    ``self.classes``, "masks" bool (N, H, W), "ignore_boxes" float32 (M, 4) (objects of
    a type outside the class list, kept so a loss or evaluation may ignore them) and
    "image_id" (the TT100K id, an int for TT100K's numeric ids).

    Args:
        root: the folder holding ``annotations.json`` and one folder per split.
        split: "train", "test", "other" or any folder with an ``ids.txt``.
        classes: "type42", "type45" or an explicit list of category names.
        keep_empty: keep images without any object of the class list (negatives).
        skip_missing: drop an id of ids.txt without a record in annotations.json or
            without its image file (a counted warning, listed in ``skipped``), not raise.
        annotation_file: the annotation file's name inside ``root`` (the 2021 release
            calls it "annotations_all.json").

    Raises at construction (naming the file and the id): FileNotFoundError for a missing
    root, annotation file or ids.txt (and, unless ``skip_missing``, image file);
    ValueError for malformed JSON, an id absent from the annotations (unless
    ``skip_missing``) or a malformed object (no category, no bbox, bad numbers).
    Problems a user would want to go past (a polygon with fewer than 3 points, an
    ellipse of size 0) are counted in ``self.problems`` and reported by one warning.
    """

    def __init__(self, root: str | os.PathLike, split: str = "train",
                 classes: str | Sequence[str] = "type42", keep_empty: bool = True,
                 skip_missing: bool = False, annotation_file: str = ANNOTATION_FILE):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"TT100K root folder {self.root} not found")
        self.split = split
        self.classes = resolve_classes(classes)
        self.annotation_path = self.root / annotation_file
        self.ids_path = self.root / split / IDS_FILE
        annotations = read_annotations(self.annotation_path)
        ids = read_ids(self.ids_path)
        self.types: list[str] = list(annotations.get("types", []))
        unknown = [c for c in self.classes if c not in self.types]
        if self.types and not isinstance(classes, str) and unknown:
            # An asked-for class the data never labels would train on no example at all.
            raise ValueError(f"classes {', '.join(unknown)} are not categories of "
                             f"{self.annotation_path} (its \"types\")")
        self.problems: list[str] = []
        self.skipped: list[str] = []  # with skip_missing: the ids left out, and why
        self._label = {name: i for i, name in enumerate(self.classes)}
        self._records: dict[str, dict] = {}
        self._objects: dict[str, list[_Object]] = {}
        self.ids: list[str] = []
        for key in ids:
            record = self._check_record(annotations["imgs"], key, skip_missing)
            if record is None:
                continue
            objects = self._parse_objects(record, key)
            if not keep_empty and not any(o.category in self._label for o in objects):
                continue
            self.ids.append(key)
            self._records[key] = record
            self._objects[key] = objects
        unknown = sorted({o.category for objs in self._objects.values() for o in objs}
                         - set(self.types)) if self.types else []
        if unknown:  # typos such as "pl5O" would otherwise vanish into ignore regions
            self.problems.append(f"categories not in \"types\", made ignore regions: "
                                 f"{', '.join(unknown[:10])}")
        if self.problems:
            warnings.warn(f"{self.annotation_path} ({split}): {len(self.problems)} problem(s) "
                          f"worked around, e.g. {self.problems[0]}; see the dataset's "
                          f".problems for all", stacklevel=2)

    def _check_record(self, imgs: dict, key: str, skip_missing: bool) -> dict | None:
        """The image record of ``key`` after checking that it and its image file exist."""
        record = imgs.get(key)
        if record is None:
            message = (f"id {key} is listed in {self.ids_path} but absent from "
                       f"{self.annotation_path}")
        elif not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise ValueError(f"{self.annotation_path}: image record {key} has no \"path\"")
        elif not (self.root / record["path"]).is_file():
            message = f"image file {self.root / record['path']} (id {key}) not found"
        else:
            return record
        if not skip_missing:
            raise (ValueError if record is None else FileNotFoundError)(
                message + "; pass skip_missing=True (--skip-bad on the command line) to leave "
                "such images out")
        self.problems.append(message + "; skipped")
        self.skipped.append(message)
        return None

    def _parse_objects(self, record: dict, key: str) -> list[_Object]:
        objects = record.get("objects", [])
        if not isinstance(objects, list):
            raise ValueError(f"{self.annotation_path}: \"objects\" of image {key} is not a list")
        return [_parse_object(obj, f"{self.annotation_path}, image {key}, object {i}",
                              self.problems) for i, obj in enumerate(objects)]

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, index: int) -> Path:
        """The image file of item ``index``."""
        return self.root / self._records[self.ids[index]]["path"]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        key = self.ids[index]
        image = load_image(self.image_path(index), image_id=key)
        height, width = image.shape[1:]
        boxes, labels, masks, ignore = [], [], [], []
        for i, obj in enumerate(self._objects[key]):
            box = _clip_box(obj.box, width, height)
            if box[2] <= box[0] or box[3] <= box[1]:
                warnings.warn(f"{self.annotation_path}, image {key}, object {i}: box "
                              f"{obj.box} {empty_box_reason(obj.box, width, height)}; left out")
                continue
            if obj.category not in self._label:
                ignore.append(box)
                continue
            mask = object_mask(box, obj.polygon, obj.ellipse, height, width)
            if not mask.any():
                warnings.warn(f"{self.annotation_path}, image {key}, object {i}: box, polygon "
                              f"and ellipse do not overlap; using the box as the mask")
                mask = object_mask(box, None, None, height, width)
            boxes.append(box)
            labels.append(self._label[obj.category])
            masks.append(mask)
        target = make_target(boxes, labels, masks, ignore, parse_image_id(key), height, width)
        return image, target

    def tt100k_json(self) -> dict:
        """This split's annotations in TT100K form (as read, boxes not clipped).

        Suitable as the ground truth of ``mcn.evaluate.tt100k_eval`` and for
        ``mcn.data.stats`` without decoding any image.
        """
        return {"types": list(self.types), "imgs": {k: self._records[k] for k in self.ids}}

    def __repr__(self) -> str:
        return (f"TT100K(root={str(self.root)!r}, split={self.split!r}, "
                f"classes={len(self.classes)} names, images={len(self)})")


def empty_box_reason(box: Sequence[float], width: int, height: int) -> str:
    """Why box (x1, y1, x2, y2) is empty once clipped to a width x height image."""
    if box[0] == box[2] or box[1] == box[3]:
        return "has zero width or height"
    return f"lies outside the {width}x{height} image"


def _clip_box(box: Sequence[float], width: int, height: int) -> list[float]:
    x1, y1, x2, y2 = box
    return [min(max(x1, 0.0), width), min(max(y1, 0.0), height),
            min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
