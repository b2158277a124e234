"""What the ``mcn`` subcommands share: the error type, the help layout, the options that
several commands take (device, threads, multi-scale testing, the joined-pair rule) and
how results print.

The command line drives the package the book builds (Mask-CornerNet, Yang, Fan and Guo
2020); chapters 9 to 11 run it.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

import torch


class UserError(Exception):
    """A mistake in the command line itself (reported as one line, exit code 1)."""


def formatter(prog: str) -> argparse.HelpFormatter:
    """Help laid out as written (the examples keep their lines)."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_command(commands: Any, name: str, help_text: str, func: Callable,
                examples: str) -> argparse.ArgumentParser:
    """A subcommand ``name`` that runs ``func(args)``, with its help and examples."""
    parser = commands.add_parser(name, help=help_text, description=help_text, epilog=examples,
                                 formatter_class=formatter)
    parser.set_defaults(func=func)
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--device, --threads and --quiet, for the commands that run a model."""
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_join_option(parser: argparse.ArgumentParser, default: str) -> None:
    """--join-ratio: drop the corner pairs that join two objects (``mcn.joins``)."""
    parser.add_argument("--join-ratio", type=float, metavar="RATIO",
                        help="drop corner pairs that join two objects' corners (mcn.joins) at "
                             f"this score ratio, e.g. 0.65 (default: {default})")


def join_ratio(args: argparse.Namespace) -> float | None:
    """``--join-ratio``, checked: None or a finite number > 0."""
    ratio = args.join_ratio
    if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
        raise UserError(f"--join-ratio: expected a number > 0, got {ratio:g}")
    return ratio


def apply_threads(args: argparse.Namespace) -> None:
    """Honour --threads (at least 1)."""
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)


def numbers(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated numbers, e.g. "0.5,1,1.25"."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def add_scale_options(parser: argparse.ArgumentParser) -> None:
    """--scales and --scale-band: multi-scale testing (``mcn.multiscale``)."""
    parser.add_argument("--scales", type=numbers, default=(1.0,), metavar="S1,S2,...",
                        help="multi-scale testing: input sizes as multiples of --input-size, e.g. "
                             "0.5,1,1.25 (default: 1, single scale)")
    parser.add_argument("--scale-band", type=numbers, metavar="LOW,HIGH",
                        help="with --scales: keep from each scale the boxes whose long side in its "
                             "input pixels is in [LOW, HIGH) (the smallest input keeps all larger, "
                             "the largest all smaller); default: keep every box")


def scale_record(args: argparse.Namespace) -> dict[str, Any]:
    """The --scales / --scale-band choice, as provenance fields."""
    band = None if args.scale_band is None else list(args.scale_band)
    return {"scales": list(args.scales), "scale_band": band}


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line options as plain JSON-ready values (for provenance records)."""
    return {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def ratio(value: float | None) -> str:
    """A ratio of the evaluation as printed: 3 decimals, or n/a for None (0/0)."""
    return "n/a" if value is None else f"{value:.3f}"


def print_tt100k(table: dict[str, dict[str, Any]], minscore: float) -> None:
    """The TT100K protocol's numbers per size bin, one line each."""
    print(f"TT100K protocol at minscore {minscore:g}:")
    for name, row in table.items():
        if row["num_gt"] == 0:  # 0/0 is no evidence of a perfect score
            print(f"  {name:7s} n/a: no signs of this size ({row['num_det']} detections)")
            continue
        print(f"  {name:7s} accuracy {ratio(row['accuracy'])}  recall {ratio(row['recall'])}  "
              f"({row['correct']} correct of {row['num_gt']} signs, {row['num_det']} detections)")
