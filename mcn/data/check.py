"""Checking a data set up front: every image decoded, every annotation validated.

Training on Tsinghua-Tencent 100K (Zhu et al., CVPR 2016), the data of the
Mask-CornerNet paper (Yang, Fan and Guo 2020), reads thousands of files; one broken
file should be found before the run starts, not hours into it, and all of them at once
rather than one per attempt. ``check_tt100k`` reads a folder in TT100K's layout
(``mcn.data.tt100k``) and lists every problem it finds: an image file that is missing,
cannot be decoded or is a truncated JPEG; an id of ids.txt that annotations.json lacks;
an object without a category, of a category absent from the file's "types" (training
would silently make it an ignore region), or whose box is malformed, holds NaN, is
inverted, has zero size or lies outside its image. ``unreadable_images`` decodes the
images of any dataset with ``image_path`` (``mcn train --skip-bad`` leaves those out).
``mcn data check`` prints the list. Taught in chapter 2.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from torch.utils.data import Dataset

from mcn.data.coco import CocoDetection
from mcn.data.images import load_image
from mcn.data.tt100k import ANNOTATION_FILE, IDS_FILE, read_annotations, read_ids

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")
_JPEG_END = b"\xff\xd9"


def image_problem(path: str | os.PathLike) -> tuple[str | None, tuple[int, int] | None]:
    """(None, (height, width)) for an image file that decodes, else (what is wrong, None)."""
    path = Path(path)
    try:
        image = load_image(path)
    except (FileNotFoundError, ValueError) as err:
        return str(err), None
    if path.suffix.lower() in (".jpg", ".jpeg") and not _ends_like_a_jpeg(path):
        # OpenCV decodes a cut-off JPEG without an error, greying out what is missing.
        return f"image file {path} is truncated (no JPEG end marker)", None
    return None, (int(image.shape[1]), int(image.shape[2]))


def _ends_like_a_jpeg(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 64))
        return _JPEG_END in f.read()  # some writers pad a few bytes after the marker


def unreadable_images(dataset: Dataset, progress: bool = False) -> dict[int, str]:
    """Index -> problem of every item of ``dataset`` whose image is missing or broken.

    ``dataset`` needs ``image_path(index)`` (``TT100K``, ``CocoDetection``); a dataset
    without it (synthetic scenes are drawn, not read) has nothing to check.
    """
    if not hasattr(dataset, "image_path"):
        return {}
    indices = range(len(dataset))
    if progress:
        from tqdm.auto import tqdm
        indices = tqdm(indices, desc="decoding images", dynamic_ncols=True)
    problems = {}
    for index in indices:
        problem, _ = image_problem(dataset.image_path(index))
        if problem:
            problems[index] = problem
    return problems


@dataclass
class CheckReport:
    """What ``check_tt100k`` found: counts and one line per problem."""

    images: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)


def check_tt100k(root: str | os.PathLike, split: str | None = None,
                 annotation_file: str = ANNOTATION_FILE, progress: bool = False) -> CheckReport:
    """Decode every image and validate every annotation of a TT100K-layout folder.

    ``split``: only the ids of ``root/split/ids.txt``; None: every image record of the
    annotation file, and every ``ids.txt`` under ``root`` checked against it. Raises only
    when the annotation file itself is missing or not valid JSON; every other problem is
    listed in the report.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"TT100K root folder {root} not found")
    annotation_path = root / annotation_file
    annotations = read_annotations(annotation_path)
    imgs, types = annotations["imgs"], set(annotations.get("types", []))
    report = CheckReport()
    id_files = [root / split / IDS_FILE] if split else sorted(root.glob(f"*/{IDS_FILE}"))
    keys = [] if split else list(imgs)
    for ids_path in id_files:
        try:
            ids = read_ids(ids_path)
        except (FileNotFoundError, ValueError) as err:
            report.problems.append(str(err))
            continue
        absent = [i for i in ids if i not in imgs]
        report.problems += [f"id {i} is listed in {ids_path} but absent from {annotation_path}"
                            for i in absent]
        if split:
            keys = [i for i in ids if i in imgs]
    if progress:
        from tqdm.auto import tqdm
        keys = tqdm(keys, desc="checking images", dynamic_ncols=True)
    for key in keys:
        report.images += 1
        report.problems += _record_problems(root, imgs[key], f"{annotation_path}, image {key}",
                                            types, report)
    return report


def check_coco(ann_file: str | os.PathLike, image_dir: str | os.PathLike,
               progress: bool = False) -> CheckReport:
    """Decode every image of a COCO-format file. Its annotations are validated as
    ``CocoDetection`` reads them, which raises at the first malformed one."""
    dataset = CocoDetection(ann_file, image_dir, skip_missing=True)
    broken = unreadable_images(dataset, progress)
    annotations = json.loads(Path(ann_file).read_text(encoding="utf-8"))["annotations"]
    return CheckReport(images=len(dataset) + len(dataset.skipped), objects=len(annotations),
                       problems=dataset.skipped + list(broken.values()))


def unknown_categories(dataset: Any) -> Counter:
    """Objects per category missing from the "types" of a TT100K split's annotation file
    (``mcn.data.tt100k.TT100K``); empty for other datasets or a file without "types"."""
    if not hasattr(dataset, "tt100k_json"):
        return Counter()
    annotations = dataset.tt100k_json()
    types = set(annotations.get("types", []))
    return Counter(obj.get("category") for record in annotations["imgs"].values()
                   for obj in record.get("objects", [])
                   if types and isinstance(obj, Mapping) and obj.get("category") not in types)


def _record_problems(root: Path, record: Any, where: str, types: set[str],
                     report: CheckReport) -> list[str]:
    if not isinstance(record, Mapping) or not isinstance(record.get("path"), str):
        return [f"{where}: the image record has no \"path\""]
    problem, size = image_problem(root / record["path"])
    problems = [f"{where}: {problem}"] if problem else []
    objects = record.get("objects", [])
    if not isinstance(objects, list):
        return problems + [f"{where}: \"objects\" is not a list"]
    report.objects += len(objects)
    for k, obj in enumerate(objects):
        problems += [f"{where}, object {k}: {p}" for p in object_problems(obj, types, size)]
    return problems


def object_problems(obj: Any, types: set[str], size: tuple[int, int] | None) -> list[str]:
    """Everything wrong with one TT100K object; ``types`` the known categories (empty:
    not checked), ``size`` the (height, width) of its image (None: not checked)."""
    if not isinstance(obj, Mapping):
        return [f"not a JSON object: {obj!r}"]
    problems = []
    category = obj.get("category")
    if not isinstance(category, str):
        problems.append("no \"category\" string")
    elif types and category not in types:
        problems.append(f"unknown category {category!r} (not in the file's \"types\")")
    for name in ("polygon", "ellipse_org"):
        if name in obj and not _points(obj[name]):
            problems.append(f"\"{name}\" is not a list of [x, y] numbers: {obj[name]!r}")
    return problems + box_problems(obj.get("bbox"), size)


def box_problems(bbox: Any, size: tuple[int, int] | None) -> list[str]:
    """What is wrong with a TT100K bbox: missing keys, non-numbers, NaN or infinity, an
    inverted or zero-size box, one outside the (height, width) image."""
    if not isinstance(bbox, Mapping) or any(k not in bbox for k in BOX_KEYS):
        return [f"\"bbox\" should have {', '.join(BOX_KEYS)}, got {bbox!r}"]
    values = [bbox[k] for k in BOX_KEYS]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [f"\"bbox\" holds a non-number: {dict(bbox)}"]
    if not all(math.isfinite(v) for v in values):
        return [f"\"bbox\" holds NaN or infinity: {dict(bbox)}"]
    x1, y1, x2, y2 = values
    if x2 < x1 or y2 < y1:
        return [f"\"bbox\" is inverted (xmax < xmin or ymax < ymin): {dict(bbox)}"]
    if x2 == x1 or y2 == y1:
        return [f"\"bbox\" has zero width or height: {dict(bbox)}"]
    if size is not None and (x2 <= 0 or y2 <= 0 or x1 >= size[1] or y1 >= size[0]):
        return [f"\"bbox\" lies outside the {size[1]}x{size[0]} image: {dict(bbox)}"]
    return []


def _points(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, (list, tuple)) and len(p) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p) for p in value)
