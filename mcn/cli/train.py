"""``mcn train``: train a detector, in one process or data-parallel under torchrun.

Every option that changes the recipe is generated from the fields of
``mcn.train.TrainConfig`` that carry a flag in their metadata: the flag, its help and
how its value is read live beside the field, so the command line cannot drift from the
configuration. The recipe is the Mask-CornerNet paper's (Yang, Fan and Guo 2020) or the
book's tiny one. Taught in chapter 9.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

from mcn.cli.common import add_command, add_run_options, apply_threads, print_tt100k
from mcn.checkpoint import load_checkpoint
from mcn.train import PRESETS, TrainConfig, get_config
from mcn.train.resume import resume_checkpoint

EXAMPLES = """examples:
  mcn train --preset tiny --data synth --out runs/tiny
  mcn train --out runs/tiny --resume                (the run's own recipe and length)
  mcn train --out runs/tiny --resume --iters 2000   (longer)
  mcn train --preset tiny --data synth --out runs/tiny --resume runs/tiny/last.pt --lr 1e-3 --grad-clip 1
  mcn train --preset book --init runs/book/last.pt --train-balance uniform --iters 6000 --out runs/book-tuned   (fine-tune)
  mcn train --preset paper --variant cornernet-squeeze --data tt100k:/data/tt100k --out runs/squeeze --device cuda --amp bf16
  mcn train --preset tiny --data coco:annotations.json:images --out runs/mine
  torchrun --nproc_per_node 2 -m mcn train --preset tiny --data synth --out runs/ddp"""


def config_options() -> list[dataclasses.Field]:
    """The ``TrainConfig`` fields that are ``mcn train`` options."""
    return [f for f in dataclasses.fields(TrainConfig) if "flag" in f.metadata]


def add_parser(commands: Any) -> None:
    """The "train" command: run options, then one option per configurable field."""
    p = add_command(commands, "train", "train a detector (one process, or DDP under torchrun)",
                    cmd_train, EXAMPLES)
    p.add_argument("--preset", default=None, choices=list(PRESETS),
                   help="training preset (default: tiny; with --resume, the run's own)")
    p.add_argument("--data", default=None, help="synth, tt100k:ROOT or coco:ANN.json[:IMAGE_DIR] "
                   "(default: synth; with --resume, the run's own)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, logs (e.g. runs/NAME)")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                   help="continue the run in --out from last.pt, or from CHECKPOINT (e.g. an "
                        "iter-NNNNNN.pt of --keep), with the run's own recipe; --iters, "
                        "--time-limit, --lr, --grad-clip, --keep and the validation options "
                        "given with it change the resumed run (recorded in config.json)")
    p.add_argument("--skip-bad", action="store_true",
                   help="tt100k/coco: leave out (and count) images that are missing or do not "
                        "decode (all are decoded once, up front) instead of failing")
    for f in config_options():
        spec = {k: v for k, v in f.metadata.items() if k not in ("flag", "convert")}
        if spec.get("action") != "store_true" and "choices" not in spec:
            spec.setdefault("metavar", f.metadata["flag"].lstrip("-").upper().replace("-", "_"))
        # None: not given, the preset's (or the resumed run's) value stays.
        p.add_argument(f.metadata["flag"], dest=f.name, default=None, **spec)
    add_run_options(p)


def train_config(args: argparse.Namespace, resumed: dict[str, Any] | None = None) -> TrainConfig:
    """The base recipe with every option given on the command line applied.

    The base is the preset, or the ``resumed`` checkpoint's own configuration: an option
    left out keeps the run's value (its length, its variant), not the preset's.
    """
    base = TrainConfig.from_dict(resumed["config"]) if resumed else get_config(args.preset or "tiny")
    overrides = {}
    for f in config_options():
        value = getattr(args, f.name)
        if value is None:
            continue
        convert = f.metadata.get("convert")
        value = convert(value) if convert else value
        if isinstance(value, dict):  # e.g. --loss-weights changes some of the base's weights
            value = {**(getattr(base, f.name) or {}), **value}
        overrides[f.name] = value
    if args.preset is not None:
        overrides["preset"] = args.preset  # a resumed run keeps its own (mcn.train.resume warns)
    return dataclasses.replace(base, **overrides)


def resumed_state(args: argparse.Namespace) -> dict[str, Any] | None:
    """The configuration and data of the checkpoint ``--resume`` names (None without it)."""
    checkpoint = resume_checkpoint(Path(args.out), args.resume)
    if checkpoint is None:
        return None
    state = load_checkpoint(checkpoint)
    return {"config": state["config"], "data": state.get("data", "synth")}


def cmd_train(args: argparse.Namespace) -> int:
    """Train as the preset and the options say; print the losses and the validation."""
    from mcn.train import train

    apply_threads(args)
    resumed = resumed_state(args)
    config = train_config(args, resumed)
    data = args.data or (resumed["data"] if resumed else "synth")  # a resumed run's own data
    given = [f.name for f in config_options() if getattr(args, f.name) is not None]
    result = train(config, data, args.out, device=args.device, resume=args.resume,
                   progress=not args.quiet, resume_overrides=given, skip_bad=args.skip_bad)
    summary = result.summary
    if int(os.environ.get("RANK", "0")) == 0:
        losses = ", ".join(f"{k} {v:.3f}" for k, v in summary["last_losses"].items())
        print(f"trained {summary['iterations']} iterations in {summary['seconds']:.0f} s; "
              f"last losses: {losses}")
        if args.skip_bad:
            print(f"skipped {summary['skipped_images']} missing or broken image(s) of {data}")
        if summary.get("validation"):
            print_tt100k(summary["validation"]["tt100k"], summary["validation"]["minscore"])
        files = ", ".join(p.name for p in sorted(Path(args.out).iterdir()) if p.is_file())
        print(f"run folder: {args.out} ({files})")
    return 0
