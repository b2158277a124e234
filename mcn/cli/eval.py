"""``mcn eval``: score a checkpoint by the TT100K protocol, with curves, mAP and COCO AP.

The protocol is TT100K's (Zhu et al., CVPR 2016), the one Mask-CornerNet (Yang, Fan and
Guo 2020) reports. ``--minscore`` is on TT100K's 0-100 scale (the official threshold is
40), unlike ``mcn predict --min-score`` which takes probabilities in [0, 1]. Taught in
chapter 10.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcn.cli.common import (UserError, add_command, add_join_option, add_run_options,
                            add_scale_options, apply_threads, join_ratio, print_tt100k, ratio,
                            scale_record)

EXAMPLES = """examples:
  mcn eval --checkpoint runs/tiny/best.pt --data synth --out runs/tiny/eval
  mcn eval --checkpoint runs/squeeze/last.pt --data tt100k:/data/tt100k --split test --out runs/squeeze/eval
  mcn eval --checkpoint mcn/weights/tiny/mask-cornernet.pt --data synth --seed 7919 --num 200 \\
           --scales 0.5,1,1.25 --scale-band 8,48 --out runs/tiny/eval-ms   (multi-scale testing)"""


def add_parser(commands: Any) -> None:
    """The "eval" command."""
    p = add_command(commands, "eval", "score a checkpoint with the TT100K protocol (and COCO AP)",
                    cmd_eval, EXAMPLES)
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
    add_scale_options(p)
    add_join_option(p, "the run's")
    p.add_argument("--no-coco", action="store_true", help="skip COCO AP")
    p.add_argument("--skip-bad", action="store_true",
                   help="tt100k/coco: leave out (and count) images that are missing or do not "
                        "decode, instead of stopping at the first")
    add_run_options(p)


def cmd_eval(args: argparse.Namespace) -> int:
    """Detect a data set with a checkpoint, score it, write results, metrics and curves."""
    import numpy as np

    from mcn.checkpoint import load_model
    from mcn.data.sources import (build_dataset, first_items, parse_data_spec, size_bin_scale,
                                  skipped_images)
    from mcn.data.tt100k_format import write_results
    from mcn.evaluate import PRCurve, evaluate_all, plot_pr_curves, size_bins, write_metrics
    from mcn.inference import detect_dataset
    from mcn.provenance import provenance
    from mcn.train import TrainConfig
    from mcn.train.distributed import resolve_device

    apply_threads(args)
    if args.num is not None and args.num < 1:
        raise UserError(f"--num must be >= 1, got {args.num}")
    if args.minscore is not None and not 0 <= args.minscore <= 100:
        raise UserError(f"--minscore is on the 0-100 scale, got {args.minscore:g}")
    if args.batch_size < 1 or args.top_k < 1:
        raise UserError(f"--batch-size and --top-k must be >= 1, got {args.batch_size} and {args.top_k}")
    join_setting = join_ratio(args)
    device = resolve_device(args.device)
    spec = parse_data_spec(args.data)
    model, state = load_model(args.checkpoint, device)
    config = TrainConfig.from_dict(state["config"])
    classes = list(state["classes"])
    dataset = build_dataset(spec, config, "val", num=args.num, seed=args.seed, split=args.split,
                            skip_bad=args.skip_bad)
    skipped = skipped_images(dataset)
    if args.skip_bad and spec.kind != "synth":
        print(f"skipped {skipped} missing or broken image(s) of {spec}")
    if args.num is not None and spec.kind != "synth":
        dataset = first_items(dataset, args.num)
    dataset_classes = list(getattr(dataset, "classes", classes))
    if dataset_classes != classes:
        raise ValueError(f"--data {args.data}: the dataset's classes {dataset_classes[:5]}... "
                         f"differ from the checkpoint's {classes[:5]}...")
    if len(dataset) == 0:
        raise UserError(f"--data {args.data}: no images to evaluate")
    minscore = args.minscore if args.minscore is not None else config.eval_minscore
    input_size = args.input_size or config.eval_size
    if join_setting is None:
        join_setting = config.join_ratio
    results, gt = detect_dataset(model, dataset, classes, input_size, device,
                                 batch_size=args.batch_size, top_k=args.top_k,
                                 ae_threshold=config.ae_threshold, num_dets=config.num_dets,
                                 progress=not args.quiet, scales=args.scales,
                                 scale_band=args.scale_band, join_ratio=join_setting)
    if not any(image["objects"] for image in gt["imgs"].values()):
        raise UserError(f"--data {args.data}: its {len(dataset)} image(s) hold no ground-truth "
                        "signs of the checkpoint's classes; there is nothing to score")
    bins = size_bins(size_bin_scale(spec, config))
    metrics = evaluate_all(gt, results, types=classes, minscore=minscore, bins=bins,
                           coco=not args.no_coco)
    record = provenance(
        config, config.seed, device, checkpoint=str(args.checkpoint),
        checkpoint_iteration=int(state["iteration"]), variant=state["variant"],
        data=str(spec), num_images=len(dataset), skipped_images=skipped, input_size=input_size,
        top_k=args.top_k, join_ratio=join_setting,
        **scale_record(args))
    out = Path(args.out)
    write_results(out / "results.json", results, record)
    write_metrics(out / "metrics.json", metrics, record)
    curves = {name: PRCurve(*(np.asarray(d[key]) for key in ("thresholds", "accuracy", "recall")))
              for name, d in metrics["curves"].items() if d["map"] is not None}  # bins with signs
    figure = plot_pr_curves(curves, title=f"{state['variant']} at iteration {state['iteration']}")
    figure.savefig(out / "pr_curves.png", dpi=120)
    print_tt100k(metrics["tt100k"], minscore)

    def per_bin(values: dict[str, float | None]) -> str:
        return ", ".join(f"{k} {ratio(v)}" for k, v in values.items())

    print(f"mAP (area under the accuracy-recall curve): {per_bin(metrics['map'])}")
    print(f"best recall at accuracy >= 0.5: {per_bin(metrics['recall_at_accuracy_0.5'])}")
    if metrics.get("coco"):
        ap = metrics["coco"]
        print(f"COCO AP {ap['AP']:.3f}, AP50 {ap['AP50']:.3f}")
    print(f"wrote {out / 'results.json'}, {out / 'metrics.json'}, {out / 'pr_curves.png'}")
    return 0
