"""``mcn experiment``: redo the paper's tables and figures with trained tiny models.

Table 1 (ablation), Table 2 (stacks), Fig. 8 (proposals), Table 3 and Fig. 9 (speed)
of Yang, Fan and Guo (2020), and multi-scale testing (scales), with ``mcn.experiments``.
Taught in chapter 11.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcn.cli.common import (UserError, add_command, add_join_option, add_run_options,
                            apply_threads, join_ratio, options)

EXAMPLES = """examples:
  mcn experiment ablation --runs runs/ablation --train          (train the five variants first)
  mcn experiment ablation --runs runs/ablation --ship mcn/weights/tiny   (the package's weights)
  mcn experiment ablation --runs mcn/weights/tiny --num 50
  mcn experiment ablation --runs runs/seeds --seeds 0,1,2 --train   (RUNS/seed<S>/VARIANT, mean and spread)
  mcn experiment stacks --runs runs/ablation --variants mask-cornernet,cornernet-mask
  mcn experiment proposals --runs runs/ablation --ks 10,50,100,200
  mcn experiment speed --runs runs/ablation --sizes 128,256,512
  mcn experiment scales --runs mcn/weights/tiny
  mcn experiment feature-probe --runs mcn/weights/book --probe-classes pl40,pl50,pl80,pl60
  mcn experiment false-detections --runs mcn/weights/book --ae-threshold 0.3
  mcn experiment error-costs --runs mcn/weights/book
  mcn experiment operating-point --runs mcn/weights/book --join-ratio 0.65"""

EXPERIMENT_VARIANTS = {"stacks": "mask-cornernet,cornernet-mask", "proposals": "mask-cornernet",
                       "scales": "mask-cornernet", "operating-point": "mask-cornernet,cornernet-squeeze",
                       "corner-confusion": "mask-cornernet,cornernet-squeeze",
                       "feature-probe": "mask-cornernet,cornernet-squeeze",
                       "false-detections": "mask-cornernet,cornernet-squeeze",
                       "error-costs": "mask-cornernet,cornernet-squeeze"}


def add_parser(commands: Any) -> None:
    """The "experiment" command."""
    p = add_command(commands, "experiment", "redo the paper's tables and figures with trained tiny models",
                    cmd_experiment, EXAMPLES)
    p.add_argument("name", choices=["ablation", "stacks", "proposals", "speed", "scales", "operating-point",
                            "corner-confusion", "feature-probe", "false-detections",
                            "error-costs"],
                   help="ablation (Table 1), stacks (Table 2), proposals (Fig. 8), speed (Table 3, "
                        "Fig. 9), scales (multi-scale testing, chosen on validation scenes), "
                        "operating-point (accuracy and recall at a threshold chosen on validation scenes), "
                        "corner-confusion (what each class channel says at the corners of each "
                        "class's signs), feature-probe (at which depth the features stop telling "
                        "some classes apart), false-detections (the false boxes and missed signs "
                        "at the operating point, sorted by cause), error-costs (the operating "
                        "point again with each cause of false boxes taken out)")
    p.add_argument("--runs", default="runs/ablation",
                   help="folder with VARIANT/last.pt run folders or VARIANT.pt files (default: runs/ablation)")
    p.add_argument("--variants", help="comma-separated variants (default: all five; stacks: "
                   "mask-cornernet,cornernet-mask; proposals, scales: mask-cornernet)")
    p.add_argument("--seeds", help="ablation: comma-separated training seeds; runs are read from "
                   "RUNS/seed<S>/ and the result gives each variant's mean and spread over them")
    p.add_argument("--train", action="store_true", help="first train the variants missing under --runs")
    p.add_argument("--preset", choices=["tiny", "book", "paper"], default="tiny",
                   help="training preset for --train (default: tiny)")
    p.add_argument("--num", type=int, help="held-out test scenes (default: 200; speed: 100; "
                   "operating-point, false-detections, error-costs: 1000; corner-confusion: 150; "
                   "feature-probe: 300 "
                   "probe scenes)")
    p.add_argument("--probe-classes", default="pl40,pl50,pl80,pl60",
                   help="feature-probe: the classes to tell apart (default: the speed limits)")
    p.add_argument("--ae-threshold", type=float,
                   help="false-detections: largest embedding distance of a corner pair "
                   "(default: each run's own)")
    add_join_option(p, "each run's; operating-point, false-detections and error-costs take it")
    p.add_argument("--ks", default="10,20,50,100,150,200", help="proposals: values of K")
    p.add_argument("--sizes", default="128,256,448,512,640", help="speed: input sides")
    p.add_argument("--out", help="result JSON (default: data/results/experiment_NAME.json)")
    p.add_argument("--ship", help="also write weights-only copies as SHIP/VARIANT.pt "
                   "(with --seeds: the runs of the first seed)")
    add_run_options(p)


def _seeds(args: argparse.Namespace) -> list[int]:
    """The seeds of ``--seeds`` (empty without it); only the ablation takes them."""
    if not args.seeds:
        return []
    if args.name != "ablation":
        raise UserError(f"--seeds: only the ablation is repeated over seeds, not {args.name}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds: expected distinct integers, got {args.seeds!r}")
    return seeds


#: the experiments that read the operating point, where the joined-pair rule may be tried
JOIN_RATIO_EXPERIMENTS = ("operating-point", "false-detections", "error-costs")


def _check_decoding(args: argparse.Namespace) -> None:
    """``--ae-threshold`` and ``--join-ratio``: positive numbers, and only where the
    pairing is the question."""
    if join_ratio(args) is not None and args.name not in JOIN_RATIO_EXPERIMENTS:
        raise UserError(f"--join-ratio: only {', '.join(JOIN_RATIO_EXPERIMENTS)} take it, "
                        f"not {args.name}")
    if args.ae_threshold is None:
        return
    if args.name != "false-detections":
        raise UserError(f"--ae-threshold: only false-detections takes it, not {args.name}")
    if not args.ae_threshold > 0:
        raise UserError(f"--ae-threshold: expected a positive number, got {args.ae_threshold}")


def _run_seeds(args: argparse.Namespace, seeds: list[int], variants: list[str],
               device: Any) -> tuple[dict, dict]:
    """The ablation over several seeds -> (result: every run's row, each variant's spread,
    the differences; the first seed's checkpoints, the ones ``--ship`` copies)."""
    from mcn.experiments import seeds as seeds_experiment
    from mcn.train import get_config

    if args.train:
        seeds_experiment.train_seeds(args.runs, get_config(args.preset), variants, seeds,
                                     device=device, progress=not args.quiet)
    checkpoints = seeds_experiment.find_seed_checkpoints(args.runs, variants, seeds)
    rows = seeds_experiment.seed_rows(checkpoints, args.num or 200, device, not args.quiet)
    spread = seeds_experiment.spread_rows(rows)
    return {"seeds": seeds, "seed_rows": rows, "rows": spread,
            "differences": seeds_experiment.differences(spread),
            "checkpoints": {f"seed{s}/{v}": str(p) for s, by in checkpoints.items() for v, p in by.items()},
            "shipped_seed": seeds[0]}, checkpoints[seeds[0]]


def _run(args: argparse.Namespace, checkpoints: dict, variants: list[str], device: Any) -> dict:
    """The rows of experiment ``args.name``."""
    from mcn import experiments

    progress, num = not args.quiet, args.num
    first = checkpoints[variants[0]]
    if args.name == "ablation":
        return {"rows": experiments.ablation_rows(checkpoints, num or 200, device, progress)}
    if args.name == "stacks":
        return {"rows": experiments.stack_rows(checkpoints, num or 200, device, progress)}
    if args.name == "proposals":
        ks = [int(k) for k in args.ks.split(",")]
        return {"checkpoint": str(first),
                "rows": experiments.proposal_rows(first, ks, num or 200, device=device,
                                                  progress=progress)}
    if args.name == "scales":
        return {"checkpoint": str(first),
                **experiments.scales_experiment(first, test_images=num or 200, device=device,
                                                progress=progress)}
    if args.name == "corner-confusion":
        return {"rows": [experiments.corner_confusion_row(checkpoints[v], num or 150, device)
                         for v in variants]}
    if args.name == "feature-probe":
        probed = [c.strip() for c in args.probe_classes.split(",") if c.strip()]
        if len(probed) < 2:
            raise UserError(f"--probe-classes: name at least two classes, got {args.probe_classes!r}")
        return {"rows": [experiments.feature_probe_row(checkpoints[v], num or 300, probed, device)
                         for v in variants]}
    if args.name == "false-detections":
        return {"rows": [experiments.false_detections_row(checkpoints[v], num_test=num or 1000,
                                                          ae_threshold=args.ae_threshold,
                                                          device=device, join_ratio=args.join_ratio)
                         for v in variants]}
    if args.name == "error-costs":
        return {"rows": [experiments.error_costs_row(checkpoints[v], num_test=num or 1000,
                                                     device=device, join_ratio=args.join_ratio)
                         for v in variants]}
    if args.name == "operating-point":
        return {"rows": [experiments.operating_point(checkpoints[v], num_test=num or 1000, device=device,
                                                     join_ratio=args.join_ratio)
                         for v in variants]}
    sizes = [int(s) for s in args.sizes.split(",")]
    if progress:
        print("speed: paper-sized models at stem stride 4 and 8", flush=True)
    return {"size_rows": experiments.size_rows(),
            "stem_stride_rows": experiments.stem_stride_rows(device=device),
            "rows": experiments.speed_rows(checkpoints, sizes, num or 100, device=device,
                                           progress=progress)}


def cmd_experiment(args: argparse.Namespace) -> int:
    """Run one experiment on trained runs and write its rows with provenance."""
    from mcn import experiments
    from mcn.benchmarks.timing import load_average
    from mcn.checkpoint import save_weights
    from mcn.models import VARIANTS
    from mcn.provenance import provenance, write_json
    from mcn.train import get_config
    from mcn.train.distributed import resolve_device

    apply_threads(args)
    device = resolve_device(args.device)
    spec = args.variants or EXPERIMENT_VARIANTS.get(args.name, ",".join(VARIANTS))
    variants = [v.strip() for v in spec.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UserError(f"--variants: unknown {', '.join(unknown)}; valid: {', '.join(VARIANTS)}")
    _check_decoding(args)
    seeds = _seeds(args)
    if seeds:
        result, checkpoints = _run_seeds(args, seeds, variants, device)
    else:
        if args.train:
            experiments.train_variants(args.runs, get_config(args.preset), variants, device=device,
                                       progress=not args.quiet)
        checkpoints = experiments.find_checkpoints(args.runs, variants)
        result = _run(args, checkpoints, variants, device)
        result["checkpoints"] = {k: str(v) for k, v in checkpoints.items()}
    out = Path(args.out or f"data/results/experiment_{args.name}.json")
    record = provenance(options(args), device=device, test_seed=experiments.TEST_SEED,
                        load_average=load_average())
    write_json(out, {"provenance": record, **result})
    print(f"wrote {out}")
    if args.ship:
        for variant, path in checkpoints.items():
            shipped = save_weights(path, Path(args.ship) / f"{variant}.pt")
            print(f"wrote {shipped}")
    return 0
