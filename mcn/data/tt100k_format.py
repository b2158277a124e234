"""The TT100K JSON form of objects: the one writer and the one reader.

Zhu et al., "Traffic-Sign Detection and Classification in the Wild", CVPR 2016, keep
annotations and detections in one JSON form, which the Mask-CornerNet paper (Yang, Fan
and Guo, 2020) scores with the same protocol::

    {"imgs": {"<id>": {"id": <id>, "objects": [
        {"category": "pl50", "bbox": {"xmin", "ymin", "xmax", "ymax"}, "score": 87.5}]}}}

Ground truth has no "score". Result files hold scores in percent: the official
evaluation drops detections below ``minscore=40`` on that 0-100 scale, while the
network's scores are probabilities in [0, 1]. ``detections_to_tt100k`` is the only
place that multiplies by ``TT100K_SCORE_SCALE``; everything else writes scores as it is
given them. Taught in chapter 8 (writing) and chapter 10 (reading and scoring).
"""

from __future__ import annotations

import json
import math
import os
from numbers import Real
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence, Union

import numpy as np
import torch

from mcn.classes import resolve_classes
from mcn.data.geometry import LetterboxMeta
from mcn.provenance import provenance as make_provenance
from mcn.provenance import write_json

#: A TT100K-style annotation or result file: a path to its JSON, or the loaded dict.
Annotations = Union[str, os.PathLike, Mapping[str, Any]]

#: TT100K result files hold scores in percent (the official minscore is 40).
TT100K_SCORE_SCALE = 100.0

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


# --------------------------------------------------------------------------- writing


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array or tensor of numbers") from None


def tt100k_objects(boxes: Any, labels: Any, classes: str | Sequence[str] = "type42",
                   scores: Any = None, where: str = "") -> dict[str, list[dict[str, Any]]]:
    """One image in TT100K form, ``{"objects": [...]}``, from arrays or tensors.

    Args:
        boxes: (N, 4) xmin, ymin, xmax, ymax in pixels (a dataset target's "boxes", or
            decoded detections).
        labels: (N,) int, 0-based indices into ``classes``.
        classes: catalogue name or list that the labels index.
        scores: (N,) or None (ground truth), written as given.
        where: what the objects belong to, to name it in errors ("image 7: ").
    """
    names = resolve_classes(classes)
    box_array = _as_numpy(boxes, "boxes")
    if box_array.size == 0:
        box_array = box_array.reshape(0, 4)  # an image without objects
    label_array = _as_numpy(labels, "labels").reshape(-1)
    n = len(label_array)
    if box_array.shape != (n, 4):
        raise ValueError(f"{where}boxes must have shape ({n}, 4) like labels, got {box_array.shape}")
    valid = (label_array == np.round(label_array)) & (label_array >= 0) & (label_array < len(names))
    if not valid.all():
        raise ValueError(f"{where}labels must be integers in [0, {len(names)}) (indices of the "
                         f"classes), got {label_array[~valid].tolist()}")
    score_list = None
    if scores is not None:
        score_array = _as_numpy(scores, "scores").reshape(-1)
        if score_array.shape != (n,):
            raise ValueError(f"{where}scores must have shape ({n},) like labels, got {score_array.shape}")
        score_list = score_array.tolist()
    objects = []
    for k, (box, label) in enumerate(zip(box_array.tolist(), label_array.astype(int).tolist())):
        entry: dict[str, Any] = {"category": names[label], "bbox": dict(zip(BOX_KEYS, box))}
        if score_list is not None:
            entry["score"] = score_list[k]
        objects.append(entry)
    return {"objects": objects}


def _plain_id(image_id: Any) -> Any:
    return image_id.item() if torch.is_tensor(image_id) else image_id


def detections_to_tt100k(detections: Sequence[Mapping[str, torch.Tensor]],
                         image_ids: Sequence[Any], classes: str | Sequence[str] = "type42"
                         ) -> dict:
    """Detections (``mcn.decode.decode``'s dicts) as a TT100K result file's content.

    Returns ``{"imgs": {str(id): {"id": id, "objects": [...]}}}`` with the scores on
    TT100K's 0-100 scale. Boxes are written as given: decode with ``letterbox`` so that
    they are in original-image pixels, like the ground truth.
    """
    if len(detections) != len(image_ids):
        raise ValueError(f"{len(detections)} detection dicts but {len(image_ids)} image_ids")
    imgs = {}
    for det, image_id in zip(detections, image_ids):
        # The one place where a probability becomes a TT100K percentage.
        percent = _as_numpy(det["scores"], "scores") * TT100K_SCORE_SCALE
        objects = tt100k_objects(det["boxes"], det["labels"], classes, percent,
                                 where=f"image {image_id}: ")
        imgs[str(image_id)] = {"id": image_id, **objects}
    return {"imgs": imgs}


def targets_to_tt100k(targets: Sequence[Mapping[str, Any]],
                      classes: str | Sequence[str] = "type42",
                      letterbox: Sequence[Mapping[str, Any]] | None = None) -> dict:
    """Ground-truth target dicts (boxes, labels, image_id) in TT100K's annotation form.

    Same layout as :func:`detections_to_tt100k` without scores. With ``letterbox`` (one
    metadata dict per target) boxes given in input pixels are mapped back to the
    original image.
    """
    if letterbox is not None and len(letterbox) != len(targets):
        raise ValueError(f"{len(letterbox)} letterbox entries for {len(targets)} targets")
    imgs = {}
    for i, target in enumerate(targets):
        if "image_id" not in target:
            raise ValueError(f"targets[{i}] has no 'image_id'")
        image_id = _plain_id(target["image_id"])
        boxes = torch.as_tensor(target["boxes"], dtype=torch.float32).reshape(-1, 4)
        if letterbox is not None:
            boxes = LetterboxMeta.from_dict(letterbox[i]).boxes_to_original(boxes)
        objects = tt100k_objects(boxes, torch.as_tensor(target["labels"]).reshape(-1), classes,
                                 where=f"targets[{i}]: ")
        imgs[str(image_id)] = {"id": image_id, **objects}
    return {"imgs": imgs}


def prediction_record(prediction: Mapping[str, Any], classes: Sequence[str], image: str,
                      min_score: float = 0.0) -> dict[str, Any]:
    """One image's detections for ``mcn predict``'s predictions.json: its file name and
    the objects scoring at least ``min_score``, scores kept as probabilities in [0, 1]."""
    keep = prediction["scores"].double() >= min_score  # compared as the Python floats they are
    objects = tt100k_objects(prediction["boxes"][keep], prediction["labels"][keep],
                             tuple(classes), prediction["scores"][keep], where=f"{image}: ")
    return {"image": image, **objects}


# --------------------------------------------------------------------------- reading


class Objects(NamedTuple):
    """The objects of one image as arrays; N objects."""

    boxes: np.ndarray  # (N, 4) float64 xmin, ymin, xmax, ymax
    categories: tuple[str, ...]  # (N,)
    scores: np.ndarray  # (N,) float64; +inf where the object has no "score"


def read_images(source: Annotations, what: str) -> dict[str, Any]:
    """The "imgs" mapping of a TT100K JSON (path or dict), keyed by image id as str.

    ``what`` ("ground truth", "results") names the source in errors.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{what} file not found: {path}")
        with open(path, encoding="utf-8") as f:
            try:
                source = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"{what} file {path} is not valid JSON: {err}") from err
    if not isinstance(source, Mapping):
        raise TypeError(
            f"{what} must be a path or a dict in TT100K form {{'imgs': {{id: ...}}}}, "
            f"got {type(source).__name__}"
        )
    if "imgs" not in source or not isinstance(source["imgs"], Mapping):
        raise ValueError(f"{what} has no 'imgs' mapping (TT100K form {{'imgs': {{id: ...}}}})")
    images: dict[str, Any] = {}
    for image_id, image in source["imgs"].items():
        key = str(image_id)  # JSON keys are strings; in-memory dicts may use ints
        if key in images:
            raise ValueError(f"{what} lists image id {key!r} twice (as {image_id!r})")
        images[key] = image
    return images


def _number(value: Any, where: str) -> float:
    # The exact-type test is a fast path for what JSON gives (result files hold
    # hundreds of thousands of numbers); bool is excluded since True is an int.
    plain = type(value) in (int, float)
    if not plain and (isinstance(value, bool) or not isinstance(value, Real)):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def parse_objects(image: Any, image_id: str, what: str) -> Objects:
    """Check one image's entry and turn its objects into arrays."""
    if not isinstance(image, Mapping) or not isinstance(image.get("objects"), list):
        raise ValueError(f"{what} image {image_id!r} needs an 'objects' list")
    boxes, categories, scores = [], [], []
    for k, obj in enumerate(image["objects"]):
        where = f"{what} image {image_id!r}, object {k}"
        if not isinstance(obj, Mapping):
            raise ValueError(f"{where} is not a dict")
        if not isinstance(obj.get("category"), str):
            raise ValueError(f"{where} needs a 'category' string")
        bbox = obj.get("bbox")
        if not isinstance(bbox, Mapping) or any(key not in bbox for key in BOX_KEYS):
            raise ValueError(f"{where} needs a 'bbox' with keys {', '.join(BOX_KEYS)}")
        box = [_number(bbox[key], f"{where}, bbox {key}") for key in BOX_KEYS]
        if box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"{where} has an inverted bbox {dict(bbox)}")
        score = _number(obj["score"], f"{where}, score") if "score" in obj else math.inf
        boxes.append(box)
        categories.append(obj["category"])
        scores.append(score)
    return Objects(
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        categories=tuple(categories),
        scores=np.asarray(scores, dtype=np.float64),
    )


def write_results(path: str | os.PathLike, results: Annotations,
                  provenance: Mapping[str, Any] | None = None) -> Path:
    """Write detections as a TT100K result JSON with a "provenance" entry beside "imgs".

    The official tools read only "imgs", so the file stays compatible with them.
    """
    images = read_images(results, "results")
    for image_id, image in images.items():
        parse_objects(image, image_id, "results")  # refuse to write a malformed file
    record = dict(provenance) if provenance is not None else make_provenance()
    return write_json(path, {"provenance": record, "imgs": images})
