"""``mcn average``: the mean of a run's saved weights, batch norm measured again.

Stochastic weight averaging (Izmailov et al. 2018; ``mcn.train.average``), taught in
chapter 9, which averages the ninth training stage of the book's models with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcn.cli.common import UserError, add_command, apply_threads

EXAMPLES = """examples:
  mcn train --preset book --init W.pt --lr 1.5e-4 --ckpt-every 200 --keep 8 --out runs/swa
  mcn average runs/swa --out runs/swa/averaged.pt      (every iter-NNNNNN.pt kept there)
  mcn average runs/swa/iter-001200.pt runs/swa/iter-001600.pt --out avg.pt --bn-batches 50"""


def add_parser(commands: Any) -> None:
    """The "average" command."""
    p = add_command(commands, "average", "average the weights of checkpoints of one run "
                    "(stochastic weight averaging)", cmd_average, EXAMPLES)
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="checkpoint files, or run folders standing for the iter-NNNNNN.pt "
                        "files --keep kept in them")
    p.add_argument("--out", required=True, help="the inference-only checkpoint to write")
    p.add_argument("--bn-batches", type=int, default=100,
                   help="training batches to measure batch norm on (default: 100)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for PyTorch (default: PyTorch's choice)")


def cmd_average(args: argparse.Namespace) -> int:
    """Average, measure batch norm, write ``--out`` (never over an existing file)."""
    from mcn.train.average import average_checkpoints, checkpoints_to_average

    apply_threads(args)
    if args.bn_batches < 1:
        raise UserError(f"--bn-batches must be >= 1, got {args.bn_batches}")
    if Path(args.out).exists():
        raise UserError(f"--out {args.out} already exists; choose another name or remove it")
    files = checkpoints_to_average(args.checkpoints)
    print(f"averaging {len(files)} checkpoints: {', '.join(f.name for f in files)}")
    written = average_checkpoints(files, args.out, bn_batches=args.bn_batches)
    print(f"wrote {written} (batch norm measured on {args.bn_batches} training batches)")
    return 0
