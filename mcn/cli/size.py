"""``mcn size``: parameters and megabytes of every variant at both presets.

The five variants of the ablation of Yang, Fan and Guo (2020, Table 1) and the paper's
model size (Table 3). Taught in chapter 4; the table comes back in chapter 11.
"""

from __future__ import annotations

import argparse
from typing import Any

from mcn.cli.common import add_command

EXAMPLES = """examples:
  mcn size
  mcn size --num-classes 10 --json sizes.json"""


def add_parser(commands: Any) -> None:
    """The "size" command."""
    p = add_command(commands, "size", "parameters and megabytes of every variant and preset",
                    cmd_size, EXAMPLES)
    p.add_argument("--num-classes", type=int, default=42, help="heatmap classes (default: 42)")
    p.add_argument("--json", help="also write the table to this JSON file")


def cmd_size(args: argparse.Namespace) -> int:
    """Print the size table of every variant and preset."""
    from mcn.models import model_size_table
    from mcn.provenance import provenance, write_json

    rows = model_size_table(num_classes=args.num_classes)
    header = f"{'variant':20s} {'preset':6s} {'input':>5s} {'params':>12s} {'fp32 MB':>9s} {'weights MiB':>11s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['variant']:20s} {r['preset']:6s} {r['input_size']:5d} {r['params']:12,d} "
              f"{r['fp32_mb']:9.2f} {r['checkpoint_mib']:11.2f}")
    print("weights MiB: a weights-only checkpoint (save_weights); a training checkpoint also "
          "holds Adam's two moments per weight and weighs several times more")
    if args.json:
        write_json(args.json, {"provenance": provenance({"num_classes": args.num_classes}),
                               "rows": rows})
        print(f"wrote {args.json}")
    return 0
