"""Exporting the eval-mode network to ONNX, and checking the export with ONNX Runtime.

The one obstacle is corner pooling (Law and Deng, CornerNet, ECCV 2018): the package
computes the running maximum with ``torch.cummax`` (``mcn.nn.corner_pool``), which has
no ONNX operator. For export only, ``scan_corner_pool`` computes the same running
maximum with plain element-wise maxima of shifted copies, doubling the shift each time
(a Hillis-Steele scan): after the steps with shifts 1, 2, 4, ... < L every position
holds the maximum of all positions up to L - 1 away on its side, i.e. the whole
running maximum. ``ceil(log2 L)`` Pad/Slice/Max operations, every one in ONNX since
opset 11; the result is exactly equal (a maximum involves no rounding), which
``tests/test_cli.py`` checks.

``export_onnx`` traces the model with that pooling swapped in (``export_friendly``),
then runs the ONNX file with ONNX Runtime on the same input and compares every output
with PyTorch's.

No chapter teaches it (the book runs the PyTorch model); ``mcn export`` uses it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from mcn.models import HEAD_KEYS

# The module itself (``mcn.nn.corner_pool`` the attribute is the function of that name).
corner_pool_module = importlib.import_module("mcn.nn.corner_pool")
_ORIGINAL_CORNER_POOL = corner_pool_module.corner_pool


def scan_corner_pool(x: torch.Tensor, direction: str) -> torch.Tensor:
    """``mcn.nn.corner_pool`` without cummax: log-step running maximum (same values).

    x: (..., H, W); direction: top, left, bottom, right (see ``mcn.nn.corner_pool``).
    """
    if direction not in corner_pool_module.DIRECTIONS:
        raise ValueError(f"direction must be one of {corner_pool_module.DIRECTIONS}, got {direction!r}")
    dim = x.dim() - 2 if direction in ("top", "bottom") else x.dim() - 1
    length = x.shape[dim]
    # top / left take the maximum over positions *after* i: look forward (pad the end);
    # bottom / right over positions *before* i: look backward (pad the start).
    forward = direction in ("top", "left")
    out = x
    shift = 1
    while shift < length:
        out = torch.maximum(out, _shifted(out, dim, shift, forward))
        shift *= 2
    return out


def _shifted(x: torch.Tensor, dim: int, shift: int, forward: bool) -> torch.Tensor:
    """x moved by ``shift`` along ``dim``; uncovered positions hold -inf."""
    length = x.shape[dim]
    # F.pad lists (left, right) pairs from the last dimension backwards.
    pad = [0, 0] * (x.dim() - dim)
    if forward:  # out[i] = x[i + shift]
        kept = x.narrow(dim, shift, length - shift)
        pad[-1] = shift
    else:  # out[i] = x[i - shift]
        kept = x.narrow(dim, 0, length - shift)
        pad[-2] = shift
    return F.pad(kept, pad, value=float("-inf"))


@contextlib.contextmanager
def export_friendly() -> Iterator[None]:
    """Within the block, every CornerPool uses ``scan_corner_pool`` instead of cummax.

    ``CornerPool.forward`` looks ``corner_pool`` up in its module at call time, so
    swapping that one name is enough; it is restored on exit, even after an error.
    """
    corner_pool_module.corner_pool = scan_corner_pool
    try:
        yield
    finally:
        corner_pool_module.corner_pool = _ORIGINAL_CORNER_POOL


def output_names(model: torch.nn.Module) -> list[str]:
    """The eval-mode output keys in a fixed order (mask last, when there is one)."""
    return list(HEAD_KEYS) + (["mask"] if getattr(model, "has_mask", False) else [])


class _TupleOutputs(torch.nn.Module):
    """ONNX graphs return tuples: the model's output dict in ``output_names`` order."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model, self.names = model, output_names(model)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images)
        return tuple(out[name] for name in self.names)


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, input_size: int | None = None,
                opset: int = 17, check: bool = True, atol: float = 1e-3, rtol: float = 1e-3,
                seed: int = 0) -> dict[str, Any]:
    """Write the eval-mode forward of ``model`` to ``path`` as ONNX; check it.

    The graph takes "images" (B, 3, S, S) float32, normalised as for the model (B is
    dynamic, S fixed at ``input_size``, default ``model.input_size``) and returns
    ``output_names(model)``. With ``check`` it runs ONNX Runtime and PyTorch on one
    random input and raises ValueError when an output differs by more than
    ``atol + rtol * |torch value|``.

    Returns {"path", "opset", "input_size", "outputs", "max_abs_diff": {name: float}}.
    """
    import onnx

    model = model.eval().cpu()
    size = int(input_size or model.input_size)
    if size % model.input_multiple:
        raise ValueError(f"input_size {size} must be a multiple of {model.input_multiple}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapped = _TupleOutputs(model).eval()
    names = wrapped.names
    generator = torch.Generator().manual_seed(seed)
    example = torch.randn(1, 3, size, size, generator=generator)
    with export_friendly(), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(
            wrapped, (example,), str(path), input_names=["images"], output_names=names,
            dynamic_axes={"images": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=opset, dynamo=False)
    onnx.checker.check_model(str(path))
    report = {"path": str(path), "opset": opset, "input_size": size, "outputs": names,
              "max_abs_diff": None}
    if check:
        report["max_abs_diff"] = check_onnx(model, path, size, atol=atol, rtol=rtol, seed=seed + 1)
    return report


def check_onnx(model: torch.nn.Module, path: str | os.PathLike, input_size: int,
               batch: int = 2, atol: float = 1e-3, rtol: float = 1e-3, seed: int = 1
               ) -> dict[str, float]:
    """Largest absolute difference, ONNX Runtime against PyTorch, per output on a random
    batch; ValueError if one is above the tolerance."""
    import onnxruntime as ort

    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, input_size, input_size, generator=generator)
    with torch.no_grad():
        expected = model.eval()(images)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images.numpy()})
    diffs = {}
    for name, value in zip(output_names(model), got):
        reference = expected[name].numpy()
        diffs[name] = float(np.max(np.abs(value - reference)))
        if not np.allclose(value, reference, atol=atol, rtol=rtol):
            raise ValueError(f"ONNX output {name!r} differs from PyTorch by up to "
                             f"{diffs[name]:.3g} (atol {atol}, rtol {rtol}) in {path}")
    return diffs
