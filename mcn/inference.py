"""Running a trained Mask-CornerNet: a dataset or an image in, detections out.

Inference is three named steps, as in torchvision's detection models: the input
transform (letterbox to the model's input size and normalise, ``mcn.data.transforms``),
the eval-mode forward pass (the last stack's corner maps and, for variants with the
mask module of Yang, Fan and Guo 2020, the segmentation logits), and decoding
(``mcn.decode``: corner NMS, top-K, pairing, soft-NMS, back to original pixels).

* ``detect_dataset`` runs a whole dataset and returns results and ground truth in
  TT100K's JSON form, ready for ``mcn.evaluate`` (at one input size, or at several
  merged, ``mcn.multiscale``); ``detect_by_size`` keeps each input size's detections
  apart, so that several merges can share one forward pass per size.
* ``predict_image`` gives one image's boxes, labels, scores and mask.

Taught in chapter 8 (one image) and chapter 10 (a dataset).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from mcn import multiscale
from mcn.data.collate import collate
from mcn.data.geometry import LetterboxMeta
from mcn.data.transforms import eval_transform
from mcn.data.tt100k_format import detections_to_tt100k, targets_to_tt100k
from mcn.decode import decode
from mcn.models import MaskCornerNet

#: A replacement for ``model(images)``: images (B, 3, H, W) -> eval-mode output dict.
Forward = Callable[[torch.Tensor], dict[str, torch.Tensor]]


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
                   num_dets: int, soft_nms: bool, join_ratio: float | None = None
                   ) -> list[dict[str, torch.Tensor]]:
    """``decode`` a batch's outputs to original pixels, results moved to the CPU."""
    detections = decode(outputs, k=top_k, ae_threshold=ae_threshold, num_dets=num_dets,
                        stride=model.stride, letterbox=list(metas),
                        soft_nms_sigma=0.5 if soft_nms else None, join_ratio=join_ratio)
    return [{k: v.cpu() for k, v in d.items()} for d in detections]


@torch.no_grad()
def detect_by_size(model: torch.nn.Module, dataset: Dataset, input_sizes: Sequence[int],
                   device: str | torch.device = "cpu", batch_size: int = 8, top_k: int = 100,
                   ae_threshold: float = 0.5, num_dets: int = 100, num_workers: int = 0,
                   progress: bool = False, soft_nms: bool = True,
                   forward: Forward | None = None, join_ratio: float | None = None,
                   ) -> tuple[list[list[dict]], list[list[dict]], list[dict]]:
    """Every image of ``dataset`` decoded at each of ``input_sizes``.

    Returns (found, metas, targets): ``found[s][i]`` image i's detections at input
    ``input_sizes[s]`` (boxes in original pixels, after soft-NMS unless ``soft_nms`` is
    False: then the raw corner pairs), ``metas[s][i]`` its letterbox there, ``targets[i]``
    its ground truth. The model is put in eval mode (and left there). ``join_ratio``:
    drop the pairs that join two objects (``mcn.joins``; None keeps them).
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
                                       num_dets, soft_nms, join_ratio)
            metas[s] += batch_metas
        truth += per_size[0][1]
    return found, metas, truth


def detect_dataset(model: torch.nn.Module, dataset: Dataset, classes: Sequence[str],
                   input_size: int, device: str | torch.device = "cpu", batch_size: int = 8,
                   top_k: int = 100, ae_threshold: float = 0.5, num_dets: int = 100,
                   num_workers: int = 0, progress: bool = False,
                   forward: Forward | None = None,
                   scales: Sequence[float] = (1.0,),
                   scale_band: tuple[float, float] | None = None,
                   join_ratio: float | None = None,
                   ) -> tuple[dict, dict]:
    """Detections and ground truth of every image of ``dataset``, TT100K JSON form.

    Returns (results, gt): {"imgs": {id: {"objects": [...]}}}, boxes in original-image
    pixels, result scores on TT100K's 0-100 scale (``mcn.data.tt100k_format.detections_to_tt100k``).
    The model is put in eval mode (and left there). ``forward`` replaces ``model(images)``
    (e.g. ``lambda x: model.forward_sources(x)["stack-1"]`` to detect from stack 1).

    ``scales`` other than (1.0,) test every image at ``input_size * scale`` for each
    scale (rounded to the model's ``input_multiple``) and merge the boxes, keeping from
    each scale those whose long side in its input pixels is in ``scale_band`` (None:
    keep all; see :mod:`mcn.multiscale`). ``join_ratio``: drop the corner pairs that
    join two objects (``mcn.joins``) at this ratio; None keeps them.
    """
    sizes, scale_band = _testing_sizes(model, input_size, scales, scale_band)
    single = len(sizes) == 1
    found, metas, targets = detect_by_size(
        model, dataset, sizes, device, batch_size, top_k, ae_threshold, num_dets, num_workers,
        progress, soft_nms=single, forward=forward, join_ratio=join_ratio)
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
                  scale_band: tuple[float, float] | None = None,
                  join_ratio: float | None = None) -> dict[str, Any]:
    """Detections of one uint8 RGB image (3, H, W), in its own pixels.

    ``scales``/``scale_band``: multi-scale testing as in :func:`detect_dataset`; the
    mask then comes from the input size nearest ``input_size``. ``join_ratio`` as there.

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
                                    soft_nms=len(sizes) == 1, join_ratio=join_ratio))
        metas.append([meta])
        if size == mask_size and "mask" in outputs:
            classes = outputs["mask"][0].float().argmax(0)  # (h, w) at the mask's stride
            mask = LetterboxMeta.from_dict(meta).mask_to_original(classes, model.mask_stride)
    det = found[0][0] if len(sizes) == 1 else multiscale.merge_scales(found, metas, sizes,
                                                                      scale_band)[0]
    det["mask"] = mask
    return det
