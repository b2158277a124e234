"""Running a trained Mask-CornerNet: load a checkpoint, detect, draw.

Inference is three named steps, as in torchvision's detection models: the input
transform (letterbox to the model's input size and normalise, ``mcn.data.transforms``),
the eval-mode forward pass (the last stack's corner maps and, for variants with the
mask module of Yang, Fan and Guo 2020, the segmentation logits), and decoding
(``mcn.decode``: corner NMS, top-K, pairing, soft-NMS, back to original pixels).

* ``load_model(checkpoint)`` rebuilds the network a training checkpoint describes;
  ``pretrained(variant, preset)`` loads one of the trained models that travel inside
  the package (``mcn/weights/<preset>/<variant>.pt``, found by ``shipped_checkpoint``).
* ``detect_dataset`` runs a whole dataset and returns results and ground truth in
  TT100K's JSON form, ready for ``mcn.evaluate`` (at one input size, or at several
  merged, ``mcn.multiscale``); ``detect_by_size`` keeps each input size's detections
  apart.
* ``predict_image`` / ``draw_prediction`` give one image's boxes, labels, scores and
  mask, and a picture of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mcn import multiscale
from mcn.checkpoint import CheckpointError, load_checkpoint
from mcn.data.collate import collate
from mcn.data.transforms import eval_transform
from mcn.decode import decode, detections_to_tt100k, targets_to_tt100k
from mcn.models import MaskCornerNet, build_model


def load_model(checkpoint: str | os.PathLike, device: str | torch.device = "cpu"
               ) -> tuple[MaskCornerNet, dict[str, Any]]:
    """The model stored in a training checkpoint, in eval mode on ``device``.

    Returns (model, state) where state is the checkpoint dict (config, classes,
    iteration...). Errors name the file: missing, corrupt, or weights that do not fit.
    """
    state = load_checkpoint(checkpoint, map_location="cpu")
    from mcn.train import stored_model_config

    preset = stored_model_config(state) or state.get("model_preset", "paper")
    model = build_model(state["variant"], int(state["num_classes"]), preset)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {checkpoint}: the weights do not fit a "
                              f"{state['variant']} with {state['num_classes']} classes "
                              f"({str(err).splitlines()[0]})") from err
    return model.to(device).eval(), state


#: The trained weights that travel inside the package: WEIGHTS/<preset>/<variant>.pt,
#: inference-only copies (``mcn experiment --ship``, chapter 11).
WEIGHTS = Path(__file__).resolve().parent / "weights"

#: The preset that ``pretrained``, ``shipped_checkpoint`` and ``mcn predict --pretrained``
#: load unless told otherwise.
DEFAULT_PRESET = "tiny"


def shipped_weights() -> dict[str, list[str]]:
    """The weights the package ships: {preset: [variant, ...]}, both sorted by name."""
    if not WEIGHTS.is_dir():
        return {}
    found = {folder.name: sorted(p.stem for p in folder.glob("*.pt"))
             for folder in sorted(WEIGHTS.iterdir()) if folder.is_dir()}
    return {preset: variants for preset, variants in found.items() if variants}


def shipped_checkpoint(variant: str = "mask-cornernet", preset: str = DEFAULT_PRESET
                       ) -> Path | None:
    """The trained checkpoint of ``variant`` in ``preset`` that the package ships, or None.

    Taught in chapter 11, which trains and ships them. The files are package data
    (``mcn/weights/<preset>/<variant>.pt``): a clone, an editable install and an
    installed wheel all have them.
    """
    path = WEIGHTS / preset / f"{variant}.pt"
    return path if path.is_file() else None


def pretrained_path(variant: str = "mask-cornernet", preset: str = DEFAULT_PRESET) -> Path:
    """The shipped checkpoint of ``variant`` in ``preset``; ValueError naming what there is."""
    available = shipped_weights()
    if preset not in available:
        presets = ", ".join(available) or "none (the package was installed without its weights)"
        raise ValueError(f"no pretrained preset {preset!r}; available: {presets}")
    if variant not in available[preset]:
        raise ValueError(f"no pretrained {variant!r} in preset {preset!r}; available: "
                         f"{', '.join(available[preset])}")
    return WEIGHTS / preset / f"{variant}.pt"


class Pretrained(NamedTuple):
    """A trained model in eval mode and the names of the classes its labels index."""

    model: MaskCornerNet
    classes: list[str]


def pretrained(variant: str = "mask-cornernet", preset: str = DEFAULT_PRESET,
               device: str | torch.device = "cpu") -> Pretrained:
    """One of the trained models the package ships, ready to detect: (model, classes).

    ``model, classes = mcn.pretrained()`` then ``predict_image(model, image)`` and
    ``draw_prediction(image, found, classes)``. Raises ValueError naming the presets and
    variants there are when ``preset`` or ``variant`` is not among them.
    """
    model, state = load_model(pretrained_path(variant, preset), device)
    return Pretrained(model, list(state["classes"]))


class _EvalItems(Dataset):
    """Dataset items as (normalised letterboxed image, original ground truth + meta)."""

    def __init__(self, dataset: Dataset, input_size: int):
        self.dataset, self.transform = dataset, eval_transform(input_size)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, target = self.dataset[index]
        image_id = target.get("image_id", index)
        image_id = image_id.item() if torch.is_tensor(image_id) else image_id
        # Only the image goes through the letterbox: the ground truth stays in original
        # pixels, where the decoded detections are mapped back to.
        x, moved = self.transform(image, {"image_id": image_id})
        return x, {"boxes": target["boxes"], "labels": target["labels"],
                   "image_id": image_id, "meta": moved["meta"]}


def _decode_to_cpu(model: torch.nn.Module, outputs: dict[str, torch.Tensor],
                   metas: Sequence[dict[str, Any]], top_k: int, ae_threshold: float,
                   num_dets: int, soft_nms: bool) -> list[dict[str, torch.Tensor]]:
    """``decode`` a batch's outputs to original pixels, results moved to the CPU."""
    detections = decode(outputs, k=top_k, ae_threshold=ae_threshold, num_dets=num_dets,
                        stride=model.stride, letterbox=list(metas),
                        soft_nms_sigma=0.5 if soft_nms else None)
    return [{k: v.cpu() for k, v in d.items()} for d in detections]


@torch.no_grad()
def detect_by_size(model: torch.nn.Module, dataset: Dataset, input_sizes: Sequence[int],
                   device: str | torch.device = "cpu", batch_size: int = 8, top_k: int = 100,
                   ae_threshold: float = 0.5, num_dets: int = 100, num_workers: int = 0,
                   progress: bool = False, soft_nms: bool = True,
                   forward: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
                   ) -> tuple[list[list[dict]], list[list[dict]], list[dict]]:
    """Every image of ``dataset`` decoded at each of ``input_sizes``.

    Returns (found, metas, targets): ``found[s][i]`` image i's detections at input
    ``input_sizes[s]`` (boxes in original pixels, after soft-NMS unless ``soft_nms`` is
    False: then the raw corner pairs), ``metas[s][i]`` its letterbox there, ``targets[i]``
    its ground truth. The model is put in eval mode (and left there).
    """
    device = torch.device(device)
    model.eval()
    # One loader per input size over the same images, read in step.
    loaders = [DataLoader(_EvalItems(dataset, size), batch_size=batch_size, collate_fn=collate,
                          num_workers=num_workers) for size in input_sizes]
    batches = zip(*loaders)
    if progress:
        from tqdm.auto import tqdm
        batches = tqdm(batches, total=len(loaders[0]), desc="detect", dynamic_ncols=True)
    found: list[list[dict]] = [[] for _ in input_sizes]
    metas: list[list[dict]] = [[] for _ in input_sizes]
    truth: list[dict] = []
    for per_size in batches:
        for s, (images, targets) in enumerate(per_size):
            outputs = (forward or model)(images.to(device))
            batch_metas = [t["meta"] for t in targets]
            found[s] += _decode_to_cpu(model, outputs, batch_metas, top_k, ae_threshold,
                                       num_dets, soft_nms)
            metas[s] += batch_metas
        truth += per_size[0][1]
    return found, metas, truth


def detect_dataset(model: torch.nn.Module, dataset: Dataset, classes: Sequence[str],
                   input_size: int, device: str | torch.device = "cpu", batch_size: int = 8,
                   top_k: int = 100, ae_threshold: float = 0.5, num_dets: int = 100,
                   num_workers: int = 0, progress: bool = False,
                   forward: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
                   scales: Sequence[float] = (1.0,),
                   scale_band: tuple[float, float] | None = None,
                   ) -> tuple[dict, dict]:
    """Detections and ground truth of every image of ``dataset``, TT100K JSON form.

    Returns (results, gt): {"imgs": {id: {"objects": [...]}}}, boxes in original-image
    pixels, result scores on TT100K's 0-100 scale (``mcn.decode.detections_to_tt100k``).
    The model is put in eval mode (and left there). ``forward`` replaces ``model(images)``
    (e.g. ``lambda x: model.forward_sources(x)["stack-1"]`` to detect from stack 1).

    ``scales`` other than (1.0,) test every image at ``input_size * scale`` for each
    scale (rounded to the model's ``input_multiple``) and merge the boxes, keeping from
    each scale those whose long side in its input pixels is in ``scale_band`` (None:
    keep all; see :mod:`mcn.multiscale`).
    """
    sizes, scale_band = _testing_sizes(model, input_size, scales, scale_band)
    single = len(sizes) == 1
    found, metas, targets = detect_by_size(
        model, dataset, sizes, device, batch_size, top_k, ae_threshold, num_dets, num_workers,
        progress, soft_nms=single, forward=forward)
    detections = found[0] if single else multiscale.merge_scales(found, metas, sizes, scale_band)
    ids = [t["image_id"] for t in targets]
    return (detections_to_tt100k(detections, ids, classes),
            targets_to_tt100k(targets, classes))


def _testing_sizes(model: torch.nn.Module, input_size: int, scales: Sequence[float],
                   scale_band: tuple[float, float] | None
                   ) -> tuple[list[int], tuple[float, float] | None]:
    """The input sizes of single- or multi-scale testing, and the checked band."""
    scales = multiscale.check_scales(scales)
    scale_band = multiscale.check_band(scale_band)
    if scales == (1.0,):
        if scale_band is not None:
            raise ValueError(f"scale_band {scale_band} needs multi-scale testing (scales "
                             "other than (1.0,)); a single scale would ignore it")
        return [input_size], None
    return (multiscale.scaled_input_sizes(input_size, scales,
                                          getattr(model, "input_multiple", 1)), scale_band)


@torch.no_grad()
def predict_image(model: MaskCornerNet, image: torch.Tensor, input_size: int | None = None,
                  top_k: int = 100, ae_threshold: float = 0.5, num_dets: int = 100,
                  device: str | torch.device = "cpu", scales: Sequence[float] = (1.0,),
                  scale_band: tuple[float, float] | None = None) -> dict[str, Any]:
    """Detections of one uint8 RGB image (3, H, W), in its own pixels.

    ``scales``/``scale_band``: multi-scale testing as in :func:`detect_dataset`; the
    mask then comes from the input size nearest ``input_size``.

    Returns {"boxes" (D, 4), "scores" (D,) in [0, 1], "labels" (D,), "mask": int64 (H, W)
    semantic classes (0 background, label + 1 otherwise) or None without a mask module}.
    """
    input_size = input_size or model.input_size
    sizes, scale_band = _testing_sizes(model, input_size, scales, scale_band)
    mask_size = min(sizes, key=lambda size: abs(size - input_size))
    model.eval()
    found, metas, mask = [], [], None
    for size in sizes:
        x, target = eval_transform(size)(image, {"image_id": 0})
        outputs = model(x[None].to(device))
        meta = target["meta"]
        found.append(_decode_to_cpu(model, outputs, [meta], top_k, ae_threshold, num_dets,
                                    soft_nms=len(sizes) == 1))
        metas.append([meta])
        if size == mask_size and "mask" in outputs:
            mask = _mask_to_original(outputs["mask"][0], meta)
    det = found[0][0] if len(sizes) == 1 else multiscale.merge_scales(found, metas, sizes,
                                                                      scale_band)[0]
    det["mask"] = mask
    return det


def _mask_to_original(logits: torch.Tensor, meta: dict[str, Any]) -> torch.Tensor:
    """Mask logits (C+1, h, w) at the input's stride 2 -> class map (H, W) of the original."""
    classes = logits.float().argmax(0).to(torch.uint8).cpu().numpy()  # (h, w)
    side = classes.shape[0] * 2  # input pixels: the mask has stride 2
    full = cv2.resize(classes, (classes.shape[1] * 2, side), interpolation=cv2.INTER_NEAREST)
    height, width = (int(v) for v in meta["orig_size"])
    scale, (left, top) = float(meta["scale"]), meta["pad"]
    # The letterboxed image occupies [top, top + H*scale) x [left, left + W*scale).
    x0, y0 = int(round(left)), int(round(top))
    x1, y1 = x0 + int(round(width * scale)), y0 + int(round(height * scale))
    crop = full[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    back = cv2.resize(crop, (width, height), interpolation=cv2.INTER_NEAREST)
    return torch.from_numpy(back.astype(np.int64))


def _colour(label: int) -> tuple[int, int, int]:
    """A distinct, repeatable RGB colour per class (golden-angle hues)."""
    hue = int((label * 137.508) % 180)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_prediction(image: torch.Tensor, prediction: dict[str, Any], classes: Sequence[str],
                    min_score: float = 0.3, mask_alpha: float = 0.45) -> np.ndarray:
    """The image (3, H, W) uint8 with the mask tinted and boxes, labels, scores drawn.

    Returns an RGB uint8 array (H, W, 3). Only detections scoring >= ``min_score``
    (in [0, 1]) are drawn; the mask shows every non-background pixel.
    """
    canvas = np.ascontiguousarray(image.permute(1, 2, 0).cpu().numpy()).copy()
    mask = prediction.get("mask")
    if mask is not None:
        mask = mask.numpy()
        tint = canvas.astype(np.float32)
        for value in np.unique(mask[mask > 0]):
            where = mask == value
            tint[where] = (1 - mask_alpha) * tint[where] + mask_alpha * np.array(_colour(int(value) - 1))
        canvas = tint.round().clip(0, 255).astype(np.uint8)
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for box, score, label in zip(prediction["boxes"].tolist(), prediction["scores"].tolist(),
                                 prediction["labels"].tolist()):
        if score < min_score:
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        colour = _colour(int(label))
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), colour, thickness)
        text = f"{classes[int(label)]} {score:.2f}"
        scale = 0.35 * thickness
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y2 + th + 2
        cv2.rectangle(canvas, (x1, ty - th - base), (x1 + tw, ty + base - 1), colour, -1)
        cv2.putText(canvas, text, (x1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def prediction_record(prediction: dict[str, Any], classes: Sequence[str], image: str,
                      min_score: float = 0.0) -> dict[str, Any]:
    """One image's detections as JSON-ready data: category, score, box (x1, y1, x2, y2)."""
    objects = [
        {"category": classes[int(label)], "score": float(score),
         "bbox": {"xmin": box[0], "ymin": box[1], "xmax": box[2], "ymax": box[3]}}
        for box, score, label in zip(prediction["boxes"].tolist(), prediction["scores"].tolist(),
                                     prediction["labels"].tolist())
        if score >= min_score
    ]
    return {"image": image, "objects": objects}


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 array (H, W, 3) as PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"OpenCV could not encode {path}")
    data.tofile(str(path))
    return path
