"""The ``mcn`` command line: data, train, eval, predict, size, bench, export, experiment.

Every subcommand prints its own help with examples (``mcn train --help``). Mistakes a
user can make (a missing file, a wrong option value, a checkpoint of another model) end
with one line on stderr and exit code 1; set MCN_DEBUG=1 to see the traceback instead.

Distributed training uses the same command under torchrun::

    torchrun --nproc_per_node 2 -m mcn train --preset tiny --data synth --out runs/ddp
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

EXAMPLES = {
    "data synth": """examples:
  mcn data synth --out data/synth --num 200 --split train --image-size 512 --seed 0
  mcn data synth --out data/synth --num 50 --split test --image-size 512 --seed 1""",
    "data stats": """examples:
  mcn data stats --data tt100k:data/synth --split test
  mcn data stats --data synth --num 200 --image-size 256 --json stats.json --plot stats.png""",
    "train": """examples:
  mcn train --preset tiny --data synth --out runs/tiny
  mcn train --preset tiny --data synth --out runs/tiny --resume --iters 2000
  mcn train --preset paper --variant cornernet-squeeze --data tt100k:/data/tt100k --out runs/squeeze --device cuda --amp bf16
  mcn train --preset tiny --data coco:annotations.json:images --out runs/mine
  torchrun --nproc_per_node 2 -m mcn train --preset tiny --data synth --out runs/ddp""",
    "eval": """examples:
  mcn eval --checkpoint runs/tiny/best.pt --data synth --out runs/tiny/eval
  mcn eval --checkpoint runs/squeeze/last.pt --data tt100k:/data/tt100k --split test --out runs/squeeze/eval
  mcn eval --checkpoint mcn/weights/tiny/mask-cornernet.pt --data synth --seed 7919 --num 200 \\
           --scales 0.5,1,1.25 --scale-band 8,48 --out runs/tiny/eval-ms   (multi-scale testing)""",
    "predict": """examples:
  mcn predict --pretrained mask-cornernet photo1.jpg photo2.png --out predictions/
  mcn predict photo.jpg --pretrained --preset tiny --out predictions/
  mcn predict --checkpoint runs/tiny/best.pt photo1.jpg photo2.png --out predictions/
  mcn predict --checkpoint runs/tiny/best.pt data/synth/test/*.jpg --out pred --min-score 0.5
  mcn predict --checkpoint runs/tiny/best.pt scene.jpg --out pred --scales 0.5,1,1.25 --scale-band 8,48""",
    "size": """examples:
  mcn size
  mcn size --num-classes 10 --json sizes.json""",
    "bench": """examples:
  mcn bench --list
  mcn bench                 (every benchmark under mcn/benchmarks/)
  mcn bench decode -- --repeats 10""",
    "experiment": """examples:
  mcn experiment ablation --runs runs/ablation --train          (train the five variants first)
  mcn experiment ablation --runs runs/ablation --ship mcn/weights/tiny   (the package's weights)
  mcn experiment ablation --runs mcn/weights/tiny --num 50
  mcn experiment stacks --runs runs/ablation --variants mask-cornernet,cornernet-mask
  mcn experiment proposals --runs runs/ablation --ks 10,50,100,200
  mcn experiment speed --runs runs/ablation --sizes 128,256,512
  mcn experiment scales --runs mcn/weights/tiny""",
    "export": """examples:
  mcn export --checkpoint runs/tiny/best.pt --onnx tiny.onnx
  mcn export --checkpoint runs/paper/best.pt --onnx paper.onnx --input-size 512 --opset 17""",
}


class UserError(Exception):
    """A mistake in the command line itself (reported as one line, exit code 1)."""


#: Exceptions that mean "the user asked for something that cannot be done".
def _user_errors() -> tuple[type[BaseException], ...]:
    from mcn.checkpoint import CheckpointError
    from mcn.train import TrainingDiverged
    return (UserError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
            IsADirectoryError, PermissionError, CheckpointError, TrainingDiverged)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


# =========================================================================== data

def cmd_data_synth(args: argparse.Namespace) -> int:
    from mcn.data.synthetic import SyntheticSigns
    from mcn.data.tt100k import write_tt100k
    from mcn.train import parse_classes

    dataset = SyntheticSigns(args.num, args.image_size, args.seed, parse_classes(args.classes))
    out = write_tt100k(dataset, args.out, split=args.split, overwrite=args.overwrite,
                       renumber=True, progress=not args.quiet)
    print(f"wrote {len(dataset)} synthetic scenes ({args.image_size} px, seed {args.seed}) "
          f"as split {args.split!r} of {out}")
    return 0


def _stats_source(args: argparse.Namespace):
    from mcn.data.synthetic import SyntheticSigns
    from mcn.data.tt100k import TT100K
    from mcn.train import parse_classes, parse_data_spec

    spec = parse_data_spec(args.data)
    classes = parse_classes(args.classes)
    if spec.kind == "synth":
        return SyntheticSigns(args.num, args.image_size, args.seed, classes)
    if spec.kind == "tt100k":
        return TT100K(spec.root, args.split, classes)
    from mcn.data.coco import CocoDetection
    return CocoDetection(spec.root, spec.image_dir)


def cmd_data_stats(args: argparse.Namespace) -> int:
    from mcn.data.stats import dataset_stats, plot_stats
    from mcn.provenance import provenance, write_json

    stats = dataset_stats(_stats_source(args), progress=not args.quiet)
    print(f"images {stats['num_images']}, objects {stats['num_objects']}, "
          f"{stats['objects_per_image']:.2f} per image, "
          f"{stats['images_without_objects']} images without objects")
    shares = ", ".join(f"{k} {v:.1%}" for k, v in stats["size_shares"].items())
    print(f"long side (< 400 px): {shares}; over 400 px: {stats['size_counts']['over_400']}")
    print("objects per class:")
    for name, count in stats["counts"].items():
        print(f"  {name:8s} {count}")
    if args.json:
        payload = {k: v for k, v in stats.items() if k not in ("objects", "counts", "histogram")}
        payload["counts"] = {k: int(v) for k, v in stats["counts"].items()}
        payload["histogram"] = {column: [float(v) for v in values] for column, values
                                in stats["histogram"].to_dict(orient="list").items()}
        write_json(args.json, {"provenance": provenance(_options(args)), "stats": payload})
        print(f"wrote {args.json}")
    if args.plot:
        plot_stats(stats, top=40).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line options as plain JSON-ready values (for provenance records)."""
    return {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool, list, type(None)))}


# =========================================================================== train

#: command-line option -> TrainConfig field, for the options that override a preset.
_TRAIN_OVERRIDES = {
    "variant": "variant", "model_preset": "model_preset", "width": "model_width",
    "iters": "iters",
    "batch_size": "batch_size", "accum_steps": "accum_steps", "lr": "lr",
    "warmup": "warmup_iters", "decay_every": "decay_every", "schedule": "lr_schedule",
    "grad_clip": "grad_clip",
    "amp": "amp", "input_size": "input_size", "eval_input_size": "eval_input_size",
    "image_size": "image_size",
    "train_images": "train_images", "signs_per_image": "train_signs_per_image",
    "train_balance": "train_class_balance",
    "val_images": "val_images", "workers": "num_workers",
    "seed": "seed", "eval_every": "eval_every", "ckpt_every": "ckpt_every",
    "minscore": "eval_minscore", "ae_threshold": "ae_threshold",
}


def _train_config(args: argparse.Namespace):
    from mcn.train import get_config, parse_classes

    overrides = {field: getattr(args, opt) for opt, field in _TRAIN_OVERRIDES.items()
                 if getattr(args, opt) is not None}
    if args.classes is not None:
        overrides["classes"] = parse_classes(args.classes)
    if args.channels_last:
        overrides["channels_last"] = True
    if args.deterministic:
        overrides["deterministic"] = True
    if args.no_augment:
        overrides["augment"] = False
    if args.loss_weights is not None:
        overrides["loss_weights"] = _loss_weights(args.loss_weights, args.preset)
    if args.time_limit is not None:
        overrides["time_limit_s"] = 60.0 * args.time_limit
    return get_config(args.preset, **overrides)


def _loss_weights(text: str, preset: str) -> dict[str, float]:
    """"pull=1,push=1" -> the preset's loss weights with those terms changed."""
    from mcn.train import get_config

    weights = dict(get_config(preset).loss_weights)
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in weights:
            raise UserError(f"--loss-weights: unknown term {name!r}; terms: {', '.join(weights)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise UserError(f"--loss-weights: {item!r} is not NAME=NUMBER") from None
    return weights


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from mcn.train import train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = _train_config(args)
    result = train(config, args.data, args.out, device=args.device, resume=args.resume,
                   progress=not args.quiet)
    summary = result.summary
    if int(os.environ.get("RANK", "0")) == 0:
        losses = ", ".join(f"{k} {v:.3f}" for k, v in summary["last_losses"].items())
        print(f"trained {summary['iterations']} iterations in {summary['seconds']:.0f} s; "
              f"last losses: {losses}")
        if summary.get("validation"):
            _print_tt100k(summary["validation"]["tt100k"], summary["validation"]["minscore"])
        files = ", ".join(p.name for p in sorted(Path(args.out).iterdir()) if p.is_file())
        print(f"run folder: {args.out} ({files})")
    return 0


def _print_tt100k(table: dict[str, dict[str, Any]], minscore: float) -> None:
    print(f"TT100K protocol at minscore {minscore:g}:")
    for name, row in table.items():
        print(f"  {name:7s} accuracy {row['accuracy']:.3f}  recall {row['recall']:.3f}  "
              f"({row['correct']} correct of {row['num_gt']} signs, {row['num_det']} detections)")


# =========================================================================== eval

def _numbers(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated numbers, e.g. "0.5,1,1.25"."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def _eval_dataset(args: argparse.Namespace, config, spec):
    from mcn.data.synthetic import SyntheticSigns
    from mcn.data.tt100k import TT100K
    from mcn.train import build_dataset, synthetic_seeds

    if spec.kind == "synth":
        seed = args.seed if args.seed is not None else synthetic_seeds(config.seed)[1]
        num = args.num if args.num is not None else config.val_images
        return SyntheticSigns(num, config.image_size, seed, config.classes,
                              class_balance=config.class_balance)
    if spec.kind == "tt100k":
        return TT100K(spec.root, args.split or "test", config.classes)
    return build_dataset(spec, config, "val")


def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from mcn.distributed import resolve_device
    from mcn.evaluate import evaluate_all, plot_pr_curves, size_bins, write_metrics, write_results
    from mcn.predict import detect_dataset, load_model
    from mcn.provenance import provenance
    from mcn.train import TrainConfig, _Subset, parse_data_spec, size_bin_scale

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    spec = parse_data_spec(args.data)
    model, state = load_model(args.checkpoint, device)
    config = TrainConfig.from_dict(state["config"])
    classes = list(state["classes"])
    dataset = _eval_dataset(args, config, spec)
    if args.num is not None and spec.kind != "synth" and len(dataset) > args.num:
        dataset = _Subset(dataset, list(range(args.num)))
    dataset_classes = list(getattr(dataset, "classes", classes))
    if dataset_classes != classes:
        raise ValueError(f"--data {args.data}: the dataset's classes {dataset_classes[:5]}... "
                         f"differ from the checkpoint's {classes[:5]}...")
    minscore = args.minscore if args.minscore is not None else config.eval_minscore
    input_size = args.input_size or config.eval_size
    results, gt = detect_dataset(model, dataset, classes, input_size, device,
                                 batch_size=args.batch_size, top_k=args.top_k,
                                 ae_threshold=config.ae_threshold, num_dets=config.num_dets,
                                 progress=not args.quiet, scales=args.scales,
                                 scale_band=args.scale_band)
    bins = size_bins(size_bin_scale(spec, config))
    metrics = evaluate_all(gt, results, types=classes, minscore=minscore, bins=bins,
                           coco=not args.no_coco)
    record = provenance(
        config, config.seed, device, checkpoint=str(args.checkpoint),
        checkpoint_iteration=int(state["iteration"]), variant=state["variant"],
        data=str(spec), num_images=len(dataset), input_size=input_size, top_k=args.top_k,
        **_scale_record(args))
    out = Path(args.out)
    write_results(out / "results.json", results, record)
    write_metrics(out / "metrics.json", metrics, record)
    curves_figure = plot_pr_curves(
        {name: _curve(metrics["curves"][name]) for name in metrics["curves"]},
        title=f"{state['variant']} at iteration {state['iteration']}")
    curves_figure.savefig(out / "pr_curves.png", dpi=120)
    _print_tt100k(metrics["tt100k"], minscore)
    print("mAP (area under the accuracy-recall curve): "
          + ", ".join(f"{k} {v:.3f}" for k, v in metrics["map"].items()))
    print("best recall at accuracy >= 0.5: "
          + ", ".join(f"{k} {v:.3f}" for k, v in metrics["recall_at_accuracy_0.5"].items()))
    if metrics.get("coco"):
        ap = metrics["coco"]
        print(f"COCO AP {ap['AP']:.3f}, AP50 {ap['AP50']:.3f}")
    print(f"wrote {out / 'results.json'}, {out / 'metrics.json'}, {out / 'pr_curves.png'}")
    return 0


def _run_eval_size(state: dict[str, Any]) -> int | None:
    """The evaluation input side of the run a checkpoint comes from."""
    config = state.get("config", {})
    return config.get("eval_input_size") or config.get("input_size")


def _curve(d: dict[str, Any]):
    import numpy as np

    from mcn.evaluate import PRCurve
    return PRCurve(np.asarray(d["thresholds"]), np.asarray(d["accuracy"]), np.asarray(d["recall"]))


# =========================================================================== predict

def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from mcn.data.tt100k import load_image
    from mcn.distributed import resolve_device
    from mcn.predict import draw_prediction, load_model, predict_image, prediction_record, write_png
    from mcn.provenance import provenance, write_json

    if args.threads:
        torch.set_num_threads(args.threads)
    if not 0.0 <= args.min_score <= 1.0:
        raise UserError(f"--min-score must lie in [0, 1], got {args.min_score}")
    device = resolve_device(args.device)
    checkpoint = _predict_checkpoint(args)
    model, state = load_model(checkpoint, device)
    classes = list(state["classes"])
    input_size = args.input_size or _run_eval_size(state) or model.input_size
    out = Path(args.out)
    records = []
    stems = set()
    for name in args.images:
        image = load_image(name)
        prediction = predict_image(model, image, input_size, top_k=args.top_k, device=device,
                                   scales=args.scales, scale_band=args.scale_band)
        stem = Path(name).stem
        while stem in stems:  # two inputs with the same name from different folders
            stem += "_"
        stems.add(stem)
        write_png(out / f"{stem}.png", draw_prediction(image, prediction, classes, args.min_score))
        records.append(prediction_record(prediction, classes, str(name), args.min_score))
        kept = len(records[-1]["objects"])
        print(f"{name}: {kept} detection(s) with score >= {args.min_score:g} -> {out / (stem + '.png')}")
    write_json(out / "predictions.json", {
        "provenance": provenance(None, None, device, checkpoint=str(checkpoint),
                                 variant=state["variant"], input_size=input_size,
                                 min_score=args.min_score, **_scale_record(args)),
        "classes": classes, "images": records})
    print(f"wrote {out / 'predictions.json'}")
    return 0


def _predict_checkpoint(args: argparse.Namespace) -> Path:
    """The checkpoint ``mcn predict`` runs: --checkpoint, or the shipped --pretrained one."""
    from mcn.predict import DEFAULT_PRESET, pretrained_path

    # "--pretrained photo.jpg" reads the image as the variant: say how to write it.
    hint = ("; name the variant (--pretrained mask-cornernet photo.jpg) or put the images "
            "before --pretrained") if args.pretrained and Path(args.pretrained).is_file() else ""
    if not args.images:
        raise UserError(f"no image files given{hint}")
    if args.checkpoint is not None:
        if args.preset is not None:
            raise UserError("--preset goes with --pretrained, not with --checkpoint")
        return Path(args.checkpoint)
    try:
        return pretrained_path(args.pretrained, args.preset or DEFAULT_PRESET)
    except ValueError as err:
        raise UserError(f"--pretrained: {err}{hint}") from None


# =========================================================================== size, bench, export

def cmd_size(args: argparse.Namespace) -> int:
    from mcn.models import model_size_table
    from mcn.provenance import provenance, write_json

    rows = model_size_table(num_classes=args.num_classes)
    header = f"{'variant':20s} {'preset':6s} {'input':>5s} {'params':>12s} {'fp32 MB':>9s} {'ckpt MiB':>9s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['variant']:20s} {r['preset']:6s} {r['input_size']:5d} {r['params']:12,d} "
              f"{r['fp32_mb']:9.2f} {r['checkpoint_mib']:9.2f}")
    if args.json:
        write_json(args.json, {"provenance": provenance({"num_classes": args.num_classes}),
                               "rows": rows})
        print(f"wrote {args.json}")
    return 0


def benchmark_modules() -> dict[str, Callable]:
    """Benchmark name -> its ``main(argv)``, for every module under mcn/benchmarks/."""
    import mcn.benchmarks as package

    found = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if callable(getattr(module, "main", None)):
            found[info.name] = module.main
    return found


def cmd_bench(args: argparse.Namespace) -> int:
    available = benchmark_modules()
    if args.list:
        for name in available:
            print(name)
        return 0
    names = args.names or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UserError(f"unknown benchmark(s) {', '.join(unknown)}; available: "
                        f"{', '.join(available) or 'none'}")
    if args.extra and len(names) != 1:
        raise UserError("options after -- go to one benchmark: name exactly one")
    failed = []
    for name in names:
        print(f"== benchmark {name}")
        try:
            available[name](list(args.extra))
        except SystemExit as stop:  # a benchmark's own argparse error
            if stop.code:
                failed.append(name)
        except Exception as err:  # keep going: one broken benchmark should not hide the rest
            print(f"benchmark {name} failed: {type(err).__name__}: {err}", file=sys.stderr)
            failed.append(name)
    if failed:
        raise UserError(f"benchmark(s) failed: {', '.join(failed)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from mcn.export import export_onnx
    from mcn.predict import load_model

    model, state = load_model(args.checkpoint, "cpu")
    input_size = args.input_size or _run_eval_size(state) or model.input_size
    report = export_onnx(model, args.onnx, input_size=input_size, opset=args.opset,
                         check=not args.no_check, atol=args.atol, rtol=args.atol)
    print(f"wrote {report['path']} (opset {report['opset']}, input (B, 3, {input_size}, {input_size}), "
          f"outputs {', '.join(report['outputs'])})")
    if report["max_abs_diff"] is not None:
        worst = max(report["max_abs_diff"].values())
        print(f"ONNX Runtime matches PyTorch: largest difference {worst:.2e} (tolerance {args.atol:g})")
    return 0


# =========================================================================== experiment

EXPERIMENT_VARIANTS = {"stacks": "mask-cornernet,cornernet-mask", "proposals": "mask-cornernet",
                       "scales": "mask-cornernet"}


def cmd_experiment(args: argparse.Namespace) -> int:
    import torch

    from mcn import experiments
    from mcn.distributed import resolve_device
    from mcn.models import VARIANTS
    from mcn.provenance import provenance, write_json
    from mcn.train import get_config

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    spec = args.variants or EXPERIMENT_VARIANTS.get(args.name, ",".join(VARIANTS))
    variants = [v.strip() for v in spec.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UserError(f"--variants: unknown {', '.join(unknown)}; valid: {', '.join(VARIANTS)}")
    progress, num = not args.quiet, args.num
    if args.train:
        experiments.train_variants(args.runs, get_config(args.preset), variants, device=device,
                                   progress=progress)
    checkpoints = experiments.find_checkpoints(args.runs, variants)
    if args.name == "ablation":
        result = {"rows": experiments.ablation_rows(checkpoints, num or 200, device, progress)}
    elif args.name == "stacks":
        result = {"rows": experiments.stack_rows(checkpoints, num or 200, device, progress)}
    elif args.name == "proposals":
        ks = [int(k) for k in args.ks.split(",")]
        result = {"checkpoint": str(checkpoints[variants[0]]),
                  "rows": experiments.proposal_rows(checkpoints[variants[0]], ks, num or 200,
                                                    device=device, progress=progress)}
    elif args.name == "scales":
        result = {"checkpoint": str(checkpoints[variants[0]]),
                  **experiments.scales_experiment(checkpoints[variants[0]], test_images=num or 200,
                                                  device=device, progress=progress)}
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        result = {"size_rows": experiments.size_rows(),
                  "rows": experiments.speed_rows(checkpoints, sizes, num or 100,
                                                 device=device, progress=progress)}
    result["checkpoints"] = {k: str(v) for k, v in checkpoints.items()}
    out = Path(args.out or f"data/results/experiment_{args.name}.json")
    record = provenance(_options(args), device=device, test_seed=experiments.TEST_SEED,
                        load_average=[round(v, 2) for v in os.getloadavg()])
    write_json(out, {"provenance": record, **result})
    print(f"wrote {out}")
    if args.ship:
        for variant, path in checkpoints.items():
            shipped = experiments.save_weights(path, Path(args.ship) / f"{variant}.pt")
            print(f"wrote {shipped}")
    return 0


# =========================================================================== parser

def _add_scale_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scales", type=_numbers, default=(1.0,), metavar="S1,S2,...",
                   help="multi-scale testing: input sizes as multiples of --input-size, e.g. "
                        "0.5,1,1.25 (default: 1, single scale)")
    p.add_argument("--scale-band", type=_numbers, metavar="LOW,HIGH",
                   help="with --scales: keep from each scale the boxes whose long side in its "
                        "input pixels is in [LOW, HIGH) (the smallest input keeps all larger, "
                        "the largest all smaller); default: keep every box")


def _scale_record(args: argparse.Namespace) -> dict[str, Any]:
    """The --scales / --scale-band choice, as provenance fields."""
    band = None if args.scale_band is None else list(args.scale_band)
    return {"scales": list(args.scales), "scale_band": band}


def _add_common_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for PyTorch (default: PyTorch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _version() -> str:
    from mcn import __version__
    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcn", formatter_class=_formatter,
        description="Mask-CornerNet: synthetic data, training, evaluation, prediction, export.",
        epilog="run 'mcn COMMAND --help' for the options and examples of each command")
    parser.add_argument("--version", action="version", version=f"mcn {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, func: Callable, examples: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text, description=help_text, epilog=examples,
                                formatter_class=_formatter)
        p.set_defaults(func=func)
        return p

    # data
    data = commands.add_parser("data", help="make synthetic data sets, count objects",
                               description="make synthetic data sets, count objects",
                               formatter_class=_formatter,
                               epilog=EXAMPLES["data synth"] + "\n" + EXAMPLES["data stats"])
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    synth = data_commands.add_parser(
        "synth", help="write synthetic scenes in the TT100K layout", formatter_class=_formatter,
        description="write synthetic traffic-sign scenes in the TT100K layout "
                    "(annotations.json, SPLIT/ids.txt, SPLIT/<id>.jpg)",
        epilog=EXAMPLES["data synth"])
    synth.set_defaults(func=cmd_data_synth)
    synth.add_argument("--out", required=True, help="output folder (created)")
    synth.add_argument("--num", type=int, default=100, help="number of scenes (default: 100)")
    synth.add_argument("--split", default="train", help="split name: train, test, other... (default: train)")
    synth.add_argument("--image-size", type=int, default=512, help="scene side in pixels, >= 128 (default: 512)")
    synth.add_argument("--seed", type=int, default=0, help="scene seed (default: 0)")
    synth.add_argument("--classes", default="type42", help="type42, type45, topN or a,b,c (default: type42)")
    synth.add_argument("--overwrite", action="store_true", help="replace the split if it exists")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    stats = data_commands.add_parser(
        "stats", help="objects per class and size distribution", formatter_class=_formatter,
        description="objects per class and the long-side size distribution of a data set",
        epilog=EXAMPLES["data stats"])
    stats.set_defaults(func=cmd_data_stats)
    stats.add_argument("--data", required=True, help="synth, tt100k:ROOT or coco:ANN.json[:IMAGE_DIR]")
    stats.add_argument("--split", default="train", help="TT100K split (default: train)")
    stats.add_argument("--classes", default="type42", help="type42, type45, topN or a,b,c (default: type42)")
    stats.add_argument("--num", type=int, default=200, help="synth: number of scenes (default: 200)")
    stats.add_argument("--image-size", type=int, default=512, help="synth: scene side (default: 512)")
    stats.add_argument("--seed", type=int, default=0, help="synth: seed (default: 0)")
    stats.add_argument("--json", help="also write the statistics to this JSON file")
    stats.add_argument("--plot", help="also draw them (the paper's Fig. 6) into this image file")
    stats.add_argument("--quiet", action="store_true", help="no progress bar")

    # train
    p = command("train", "train a detector (one process, or DDP under torchrun)", cmd_train,
                EXAMPLES["train"])
    p.add_argument("--preset", default="tiny", choices=["tiny", "book", "paper"],
                   help="training preset (default: tiny)")
    p.add_argument("--data", default="synth", help="synth, tt100k:ROOT or coco:ANN.json[:IMAGE_DIR] (default: synth)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, logs (e.g. runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    p.add_argument("--variant", help="cornernet-squeeze, cornernet-fusion, cornernet-fire, "
                                     "cornernet-mask or mask-cornernet (default: mask-cornernet)")
    p.add_argument("--model-preset", choices=["tiny", "book", "paper"], help="model size (default: the preset's)")
    p.add_argument("--width", type=float, help="channel width multiplier (default: the model preset's)")
    p.add_argument("--iters", type=int, help="optimiser steps in total")
    p.add_argument("--batch-size", type=int, help="images per process and micro-batch")
    p.add_argument("--accum-steps", type=int, help="micro-batches per optimiser step")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--warmup", type=int, help="linear warm-up iterations")
    p.add_argument("--decay-every", type=int, help="multiply lr by 0.1 every this many iterations")
    p.add_argument("--schedule", choices=["step", "cosine"],
                   help="learning-rate decay: step (x0.1 every --decay-every) or cosine (to 0)")
    p.add_argument("--grad-clip", type=float, help="clip the gradient norm to this")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], help="mixed precision (CUDA only)")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format (CUDA only)")
    p.add_argument("--input-size", type=int, help="training input side (random crops of the scenes)")
    p.add_argument("--eval-input-size", type=int, help="input side at validation (default: the input size)")
    p.add_argument("--image-size", type=int, help="synthetic scene side")
    p.add_argument("--classes", help="type42, type45, topN (N most frequent) or a,b,c")
    p.add_argument("--train-images", type=int, help="synthetic training scenes")
    p.add_argument("--signs-per-image", type=float,
                   help="mean signs per synthetic training scene (validation keeps 2.5)")
    p.add_argument("--train-balance", choices=["tt100k", "uniform"],
                   help="class mix of synthetic training scenes (validation keeps the preset's)")
    p.add_argument("--val-images", type=int, help="images scored at each validation (0: none)")
    p.add_argument("--workers", type=int, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels")
    p.add_argument("--no-augment", action="store_true", help="no random crop / colour augmentation")
    p.add_argument("--eval-every", type=int, help="validate every N iterations (0: at the end only)")
    p.add_argument("--ckpt-every", type=int, help="save last.pt every N iterations")
    p.add_argument("--minscore", type=float, help="validation minscore, 0-100 scale")
    p.add_argument("--ae-threshold", type=float, help="largest TL/BR embedding distance of a pair at validation")
    p.add_argument("--loss-weights", metavar="TERM=W,...",
                   help="change loss weights, e.g. pull=1,push=1 (terms det, pull, push, off, mask)")
    p.add_argument("--time-limit", type=float, metavar="MINUTES",
                   help="stop after this many minutes of training (then validate and save)")
    _add_common_run_options(p)

    # eval
    p = command("eval", "score a checkpoint with the TT100K protocol (and COCO AP)", cmd_eval,
                EXAMPLES["eval"])
    p.add_argument("--checkpoint", required=True, help="a .pt file written by mcn train")
    p.add_argument("--data", required=True, help="synth, tt100k:ROOT or coco:ANN.json[:IMAGE_DIR]")
    p.add_argument("--out", required=True, help="folder for results.json, metrics.json, pr_curves.png")
    p.add_argument("--split", help="TT100K split (default: test)")
    p.add_argument("--num", type=int, help="number of images (synth: held-out scenes; default: the run's val_images)")
    p.add_argument("--seed", type=int, help="synth: scene seed (default: the run's validation seed)")
    p.add_argument("--minscore", type=float, help="TT100K minscore, 0-100 (default: the run's)")
    p.add_argument("--input-size", type=int, help="network input side (default: the run's)")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass (default: 8)")
    p.add_argument("--top-k", type=int, default=100, help="corners kept per type (default: 100)")
    _add_scale_options(p)
    p.add_argument("--no-coco", action="store_true", help="skip COCO AP")
    _add_common_run_options(p)

    # predict
    p = command("predict", "draw detections and masks on images", cmd_predict, EXAMPLES["predict"])
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a .pt file written by mcn train")
    model.add_argument("--pretrained", nargs="?", const="mask-cornernet", metavar="VARIANT",
                       help="a trained model the package ships (default variant: mask-cornernet)")
    p.add_argument("--preset", help="with --pretrained: the preset of the shipped model "
                                    "(default: mcn.predict.DEFAULT_PRESET)")
    p.add_argument("images", nargs="*", help="image files (jpg, png, ...), at least one")
    p.add_argument("--out", required=True, help="folder for <image>.png and predictions.json")
    p.add_argument("--min-score", type=float, default=0.3, help="draw/keep detections with score >= this, 0-1 (default: 0.3)")
    p.add_argument("--input-size", type=int, help="network input side (default: the run's)")
    p.add_argument("--top-k", type=int, default=100, help="corners kept per type (default: 100)")
    _add_scale_options(p)
    _add_common_run_options(p)

    # size
    p = command("size", "parameters and megabytes of every variant and preset", cmd_size,
                EXAMPLES["size"])
    p.add_argument("--num-classes", type=int, default=42, help="heatmap classes (default: 42)")
    p.add_argument("--json", help="also write the table to this JSON file")

    # bench
    p = command("bench", "run the benchmarks under mcn/benchmarks/ (results in data/results/)",
                cmd_bench, EXAMPLES["bench"])
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and stop")

    # experiment
    p = command("experiment", "redo the paper's tables and figures with trained tiny models",
                cmd_experiment, EXAMPLES["experiment"])
    p.add_argument("name", choices=["ablation", "stacks", "proposals", "speed", "scales"],
                   help="ablation (Table 1), stacks (Table 2), proposals (Fig. 8), speed (Table 3, "
                        "Fig. 9), scales (multi-scale testing, chosen on validation scenes)")
    p.add_argument("--runs", default="runs/ablation",
                   help="folder with VARIANT/last.pt run folders or VARIANT.pt files (default: runs/ablation)")
    p.add_argument("--variants", help="comma-separated variants (default: all five; stacks: "
                   "mask-cornernet,cornernet-mask; proposals, scales: mask-cornernet)")
    p.add_argument("--train", action="store_true", help="first train the variants missing under --runs")
    p.add_argument("--preset", choices=["tiny", "paper"], default="tiny",
                   help="training preset for --train (default: tiny)")
    p.add_argument("--num", type=int, help="held-out test scenes (default: 200; speed: 100)")
    p.add_argument("--ks", default="10,20,50,100,150,200", help="proposals: values of K")
    p.add_argument("--sizes", default="128,256,448,512,640", help="speed: input sides")
    p.add_argument("--out", help="result JSON (default: data/results/experiment_NAME.json)")
    p.add_argument("--ship", help="also write weights-only copies as SHIP/VARIANT.pt "
                                  "(mcn/weights/PRESET: the weights the package ships)")
    _add_common_run_options(p)

    # export
    p = command("export", "export the eval-mode network to ONNX and check it with ONNX Runtime",
                cmd_export, EXAMPLES["export"])
    p.add_argument("--checkpoint", required=True, help="a .pt file written by mcn train")
    p.add_argument("--onnx", required=True, help="the .onnx file to write")
    p.add_argument("--input-size", type=int, help="fixed input side (default: the run's)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    p.add_argument("--atol", type=float, default=1e-3, help="tolerance of the ONNX Runtime check (default: 1e-3)")
    p.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime comparison")
    return parser


def _split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    """Arguments after a bare "--" go to a benchmark."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcn`` console script; returns (and exits with) the status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, extra = _split_extra(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.extra = extra
    if extra and args.command != "bench":
        parser.error("arguments after -- are only for 'mcn bench'")
    name = args.command + (f" {args.data_command}" if args.command == "data" else "")
    try:
        status = args.func(args)
    except KeyboardInterrupt:
        print(f"mcn {name}: interrupted", file=sys.stderr)
        status = 130
    except _user_errors() as err:
        if os.environ.get("MCN_DEBUG"):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"mcn {name}: error: {message}", file=sys.stderr)
        status = 1
    if status:
        sys.exit(status)
    return 0
