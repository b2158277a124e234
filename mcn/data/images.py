"""Reading and writing images as RGB uint8 tensors (3, H, W), with errors that name the file.

OpenCV decodes and encodes (as Colab ships it); the raw bytes go through NumPy so that
paths with any characters work. The datasets (TT100K, COCO) read with ``load_image`` and
the writers and ``mcn predict`` write with ``save_image``. Taught in chapter 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch


def load_image(path: str | os.PathLike, image_id: Any = None) -> torch.Tensor:
    """Read an image file as an RGB uint8 tensor (3, H, W); errors name the file and id."""
    path = Path(path)
    label = f" (image id {image_id})" if image_id is not None else ""
    if not path.is_file():
        raise FileNotFoundError(f"image file {path}{label} not found")
    # imdecode of the raw bytes also works for non-ASCII paths, unlike cv2.imread.
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ValueError(f"image file {path}{label} could not be decoded (corrupt or not an "
                         f"image)")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def save_image(path: str | os.PathLike, image: torch.Tensor, jpeg_quality: int = 95) -> Path:
    """Write an RGB uint8 image (3, H, W); the suffix (.jpg, .png) picks the codec."""
    path = Path(path)
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
        raise TypeError(f"{path}: expected a uint8 RGB image (3, H, W), got {image.dtype} "
                        f"{tuple(image.shape)} (write the dataset before normalisation)")
    bgr = cv2.cvtColor(np.ascontiguousarray(image.cpu().permute(1, 2, 0).numpy()),
                       cv2.COLOR_RGB2BGR)
    is_jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if is_jpeg else []
    ok, data = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode {path} (suffix {path.suffix!r})")
    data.tofile(str(path))  # tofile, like fromfile in load_image, copes with any path
    return path
