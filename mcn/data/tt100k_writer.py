"""Writing any dataset in the layout of Tsinghua-Tencent 100K (TT100K).

Zhu et al. (CVPR 2016) published TT100K as ``annotations.json`` beside one folder of
images per split (``mcn.data.tt100k`` reads it). ``write_tt100k`` writes any dataset
(synthetic, COCO, TT100K itself) in that layout, with each mask's outline as the
polygon, so the synthetic set is a drop-in stand-in for the real one: ``TT100K(root)``
reads back the same boxes and (up to the polygon rasterisation) the same masks.
Taught in chapter 2.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from mcn.classes import resolve_classes
from mcn.data.images import save_image
from mcn.data.tt100k import ANNOTATION_FILE, IDS_FILE, parse_image_id, read_annotations, read_ids
from mcn.data.tt100k_format import tt100k_objects


def mask_polygon(mask: np.ndarray | torch.Tensor) -> list[list[float]] | None:
    """The outline of a mask's largest piece as a polygon in continuous coordinates.

    The points are the centres of the outline pixels (OpenCV's ``findContours``, with
    straight runs compressed). None when the mask is empty or thinner than 3 points.
    """
    mask = np.asarray(mask, dtype=np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    largest = max(contours, key=lambda c: (cv2.contourArea(c), len(c)))
    points = largest.reshape(-1, 2).astype(np.float64) + 0.5  # pixel index -> centre
    if len(points) < 3:
        return None
    return points.tolist()


def target_objects(target: dict[str, Any], classes: Sequence[str]) -> list[dict]:
    """The objects of a dataset target in TT100K form, each mask's outline as "polygon"."""
    objects = tt100k_objects(torch.as_tensor(target["boxes"]).reshape(-1, 4),
                             torch.as_tensor(target["labels"]).reshape(-1), tuple(classes),
                             where=f"image {target.get('image_id')}: ")["objects"]
    masks = target.get("masks")
    for i, obj in enumerate(objects if masks is not None else []):
        polygon = mask_polygon(masks[i].cpu().numpy())
        if polygon is not None:
            obj["polygon"] = polygon
    return objects


def classes_of(dataset: Any, classes: str | Sequence[str] | None) -> tuple[str, ...]:
    """``classes`` resolved, or by default the dataset's own ``.classes``."""
    if classes is not None:
        return resolve_classes(classes)
    if hasattr(dataset, "classes"):
        return resolve_classes(dataset.classes)
    raise ValueError("the dataset has no .classes attribute; pass classes= (a catalogue name "
                     "or a list of category names)")


_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def write_tt100k(dataset: Any, out_dir: str | os.PathLike, split: str = "train",
                 classes: str | Sequence[str] | None = None, overwrite: bool = False,
                 renumber: bool = False, jpeg_quality: int = 95,
                 progress: bool = False) -> Path:
    """Write ``dataset`` as split ``split`` of a TT100K-layout folder; returns ``out_dir``.

    Writes ``out_dir/<split>/<id>.jpg`` and ``out_dir/<split>/ids.txt`` and adds the
    split's records (category, bbox, polygon from the mask outline) to
    ``out_dir/annotations.json``, keeping the records of the other splits. The image
    ids are the dataset's ``image_id``; with ``renumber=True`` they are new numbers
    following the largest id already in annotations.json (use this when writing a
    second split of a dataset whose ids restart at 0).

    Raises FileExistsError if the split already exists (its ids.txt is there) unless
    ``overwrite=True``, which first removes that split's records; ValueError when an id
    is repeated, already belongs to another split, or is not usable as a file name.
    """
    if not _SAFE_ID.match(split):
        raise ValueError(f"split name {split!r} should be a plain folder name")
    names = classes_of(dataset, classes)
    out_dir = Path(out_dir)
    annotation_path, ids_path = out_dir / ANNOTATION_FILE, out_dir / split / IDS_FILE
    annotations = (read_annotations(annotation_path) if annotation_path.exists()
                   else {"types": [], "imgs": {}})
    if ids_path.exists():
        if not overwrite:
            raise FileExistsError(f"split {split!r} already exists ({ids_path}); pass "
                                  f"--overwrite (overwrite=True) to replace it")
        for key in read_ids(ids_path):
            annotations["imgs"].pop(key, None)
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    next_id = 1 + max((int(k) for k in annotations["imgs"] if k.isdigit()), default=-1)

    ids: list[str] = []
    for index in progress_bar(range(len(dataset)), progress, f"writing {split}"):
        image, target = dataset[index]
        key = str(next_id + index) if renumber else str(target.get("image_id", index))
        _check_new_id(key, annotations["imgs"], set(ids), split)
        save_image(out_dir / split / f"{key}.jpg", image, jpeg_quality)
        annotations["imgs"][key] = {"path": f"{split}/{key}.jpg", "id": parse_image_id(key),
                                    "objects": target_objects(target, names)}
        ids.append(key)

    annotations["types"] = list(annotations.get("types", [])) + [
        n for n in names if n not in annotations.get("types", [])]
    _write_text(annotation_path, json.dumps(annotations))
    _write_text(ids_path, "".join(f"{k}\n" for k in ids))
    return out_dir


def _check_new_id(key: str, imgs: dict, written: set[str], split: str) -> None:
    if not _SAFE_ID.match(key):
        raise ValueError(f"image id {key!r} cannot be used as a file name; pass renumber=True")
    if key in written:
        raise ValueError(f"image id {key} occurs twice in the dataset; pass renumber=True")
    if key in imgs:
        raise ValueError(f"image id {key} of split {split!r} already belongs to "
                         f"{imgs[key].get('path')} in annotations.json; pass renumber=True")


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file so an interrupted run never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def progress_bar(items: Any, enabled: bool, description: str) -> Any:
    """``items`` wrapped in a tqdm progress bar when ``enabled``."""
    if not enabled:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, desc=description)
