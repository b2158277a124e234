"""``mcn data synth`` and ``mcn data stats``: write synthetic scenes, count a data set.

The synthetic scenes stand in for Tsinghua-Tencent 100K (Zhu et al., CVPR 2016), the
data set of the Mask-CornerNet paper (Yang, Fan and Guo 2020); the statistics are those
of the paper's Fig. 6. Taught in chapter 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from mcn.cli.common import formatter, options

SYNTH_EXAMPLES = """examples:
  mcn data synth --out data/synth --num 200 --split train --image-size 512 --seed 0
  mcn data synth --out data/synth --num 50 --split test --image-size 512 --seed 1"""
STATS_EXAMPLES = """examples:
  mcn data stats --data tt100k:data/synth --split test
  mcn data stats --data synth --num 200 --image-size 256 --json stats.json --plot stats.png"""


def add_parser(commands: Any) -> None:
    """The "data" command and its two actions."""
    data = commands.add_parser("data", help="make synthetic data sets, count objects",
                               description="make synthetic data sets, count objects",
                               formatter_class=formatter,
                               epilog=SYNTH_EXAMPLES + "\n" + STATS_EXAMPLES)
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
    from mcn.data.sources import build_dataset
    from mcn.data.stats import dataset_stats, plot_stats
    from mcn.provenance import provenance, write_json
    from mcn.train import TrainConfig

    source = build_dataset(args.data, TrainConfig(classes=parse_classes(args.classes)), "val",
                           num=args.num, seed=args.seed, image_size=args.image_size,
                           split=args.split)
    stats = dataset_stats(source, progress=not args.quiet)
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
