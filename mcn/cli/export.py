"""``mcn export``: the eval-mode network as ONNX, checked against PyTorch by ONNX Runtime.

Corner pooling (CornerNet, Law and Deng 2018) is exported through an equivalent scan
(``mcn.export``). No chapter teaches it: the book runs the PyTorch model.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from mcn.cli.common import UserError, add_command

EXAMPLES = """examples:
  mcn export --checkpoint runs/tiny/best.pt --onnx tiny.onnx
  mcn export --checkpoint runs/paper/best.pt --onnx paper.onnx --input-size 512 --opset 17"""


def add_parser(commands: Any) -> None:
    """The "export" command."""
    p = add_command(commands, "export", "export the eval-mode network to ONNX and check it with ONNX Runtime",
                    cmd_export, EXAMPLES)
    p.add_argument("--checkpoint", required=True, help="a .pt file written by mcn train")
    p.add_argument("--onnx", required=True, help="the .onnx file to write")
    p.add_argument("--input-size", type=int, help="fixed input side (default: the run's)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    p.add_argument("--atol", type=float, default=1e-3, help="tolerance of the ONNX Runtime check (default: 1e-3)")
    p.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime comparison")


def cmd_export(args: argparse.Namespace) -> int:
    """Write the checkpoint's network as ONNX and compare it with PyTorch."""
    from mcn.checkpoint import load_model
    from mcn.export import export_onnx

    from torch.onnx import _constants

    # The exporter's own limits; outside them it fails deep inside with a traceback.
    low, high = 11, _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET  # the pooling scan needs 11
    if not low <= args.opset <= high:
        raise UserError(f"--opset must be between {low} and {high}, got {args.opset}")
    model, _ = load_model(args.checkpoint, "cpu")
    input_size = args.input_size or model.input_size
    try:
        report = export_onnx(model, args.onnx, input_size=input_size, opset=args.opset,
                             check=not args.no_check, atol=args.atol, rtol=args.atol)
    except (RuntimeError, torch.onnx.errors.OnnxExporterError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"--opset {args.opset}: the export failed ({first})") from err
    print(f"wrote {report['path']} (opset {report['opset']}, input (B, 3, {input_size}, {input_size}), "
          f"outputs {', '.join(report['outputs'])})")
    if report["max_abs_diff"] is not None:
        worst = max(report["max_abs_diff"].values())
        print(f"ONNX Runtime matches PyTorch: largest difference {worst:.2e} (tolerance {args.atol:g})")
    return 0
