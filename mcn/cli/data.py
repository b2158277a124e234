"""``mcn data synth``, ``stats`` and ``check``: write synthetic scenes, count a data set,
find every broken file and annotation of one.

The synthetic scenes stand in for Tsinghua-Tencent 100K (Zhu et al., CVPR 2016), the
data set of the Mask-CornerNet paper (Yang, Fan and Guo 2020); the statistics are those
of the paper's Fig. 6; the check is ``mcn.data.check``. Taught in chapter 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mcn.cli.common import UserError, formatter, options

SYNTH_EXAMPLES = """examples:
  mcn data synth --out data/synth --num 200 --split train --image-size 512 --seed 0
  mcn data synth --out data/synth --num 50 --split test --image-size 512 --seed 1"""
STATS_EXAMPLES = """examples:
  mcn data stats --data tt100k:data/synth --split test
  mcn data stats --data synth --num 200 --image-size 256 --json stats.json --plot stats.png"""
CHECK_EXAMPLES = """examples:
  mcn data check --data tt100k:/data/tt100k                (every image of annotations.json)
  mcn data check --data tt100k:/data/tt100k --split train
  mcn data check --data coco:annotations.json:images"""


def add_parser(commands: Any) -> None:
    """The "data" command and its two actions."""
    data = commands.add_parser("data", help="make synthetic data sets, count objects",
                               description="make synthetic data sets, count objects",
                               formatter_class=formatter,
                               epilog="\n".join((SYNTH_EXAMPLES, STATS_EXAMPLES, CHECK_EXAMPLES)))
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    synth = actions.add_parser(
        "synth", help="write synthetic scenes in the TT100K layout", formatter_class=formatter,
        description="write synthetic traffic-sign scenes in the TT100K layout "
                    "(annotations.json, SPLIT/ids.txt, SPLIT/<id>.jpg)",
        epilog=SYNTH_EXAMPLES)
    synth.set_defaults(func=cmd_data_synth)
    synth.add_argument("--out", required=True, help="output folder (created)")
    synth.add_argument("--num", type=int, default=100, help="number of scenes (default: 100)")
    synth.add_argument("--split", default="train", help="split name: train, test, other... (default: train)")
    synth.add_argument("--image-size", type=int, default=512, help="scene side in pixels, >= 128 (default: 512)")
    synth.add_argument("--seed", type=int, default=0, help="scene seed (default: 0)")
    synth.add_argument("--classes", default="type42", help="type42, type45, topN or a,b,c (default: type42)")
    synth.add_argument("--overwrite", action="store_true", help="replace the split if it exists")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    stats = actions.add_parser(
        "stats", help="objects per class and size distribution", formatter_class=formatter,
        description="objects per class and the long-side size distribution of a data set",
        epilog=STATS_EXAMPLES)
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
    check = actions.add_parser(
        "check", help="decode every image, validate every annotation, list every problem",
        formatter_class=formatter, epilog=CHECK_EXAMPLES,
        description="decode every image and validate every annotation of a TT100K-layout "
                    "folder (or a COCO file) up front; list every problem at once and exit "
                    "with 1 if there is any")
    check.set_defaults(func=cmd_data_check)
    check.add_argument("--data", required=True, help="tt100k:ROOT or coco:ANN.json[:IMAGE_DIR]")
    check.add_argument("--split", help="TT100K: only the ids of ROOT/SPLIT/ids.txt (default: "
                                       "every image of annotations.json and every ids.txt)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_data_synth(args: argparse.Namespace) -> int:
    """Write synthetic scenes as a split of a TT100K-layout folder."""
    from mcn.classes import parse_classes
    from mcn.data.synthetic import SyntheticSigns
    from mcn.data.tt100k_writer import write_tt100k

    dataset = SyntheticSigns(args.num, args.image_size, args.seed, parse_classes(args.classes))
    out = write_tt100k(dataset, args.out, split=args.split, overwrite=args.overwrite,
                       renumber=True, progress=not args.quiet)
    print(f"wrote {len(dataset)} synthetic scenes ({args.image_size} px, seed {args.seed}) "
          f"as split {args.split!r} of {out}")
    return 0


def cmd_data_stats(args: argparse.Namespace) -> int:
    """Print (and optionally write and draw) a data set's statistics."""
    from mcn.classes import parse_classes
    from mcn.data.check import unknown_categories
    from mcn.data.sources import build_dataset
    from mcn.data.stats import dataset_stats, plot_stats
    from mcn.provenance import provenance, write_json
    from mcn.train import TrainConfig

    source = build_dataset(args.data, TrainConfig(classes=parse_classes(args.classes)), "val",
                           num=args.num, seed=args.seed, image_size=args.image_size,
                           split=args.split)
    stats = dataset_stats(source, progress=not args.quiet)
    unknown = unknown_categories(source)
    if unknown:  # training makes them ignore regions: a typo would vanish without a word
        listed = ", ".join(f"{name} ({count})" for name, count in unknown.most_common(10))
        print(f"warning: {sum(unknown.values())} object(s) of categories not in the \"types\" "
              f"of {source.annotation_path}, left out below and made ignore regions in "
              f"training: {listed}", file=sys.stderr)
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
        write_json(args.json, {"provenance": provenance(options(args)), "stats": payload})
        print(f"wrote {args.json}")
    if args.plot:
        plot_stats(stats, top=40).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    """List every problem of a data set's images and annotations; 1 if there is any."""
    from mcn.data.check import check_coco, check_tt100k
    from mcn.data.sources import parse_data_spec

    spec = parse_data_spec(args.data)
    if spec.kind == "synth":
        raise UserError("--data synth: synthetic scenes are drawn, not read; there is nothing "
                        "to check (give tt100k:ROOT or coco:ANN.json[:IMAGE_DIR])")
    if spec.kind == "tt100k":
        report = check_tt100k(spec.root, args.split, progress=not args.quiet)
    else:
        report = check_coco(spec.root, spec.image_dir, progress=not args.quiet)
    for problem in report.problems:
        print(problem)
    checked = f"{report.images} images and {report.objects} objects of {spec}"
    if report.problems:  # the list is on stdout; the one-line error says how long it is
        raise UserError(f"{len(report.problems)} problem(s) in {checked}, listed above")
    print(f"checked {checked}: no problems")
    return 0
