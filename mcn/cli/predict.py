"""``mcn predict``: detect signs in image files, draw them, and list them in JSON.

Boxes, classes, scores and the mask of Mask-CornerNet (Yang, Fan and Guo 2020), painted
onto each image. ``--min-score`` takes probabilities in [0, 1], the network's own scale
(``mcn eval --minscore`` is on TT100K's 0-100 scale). Taught in chapter 8.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcn.cli.common import (UserError, add_command, add_join_option, add_run_options,
                            add_scale_options, apply_threads, join_ratio, scale_record)

EXAMPLES = """examples:
  mcn predict --pretrained mask-cornernet photo1.jpg photo2.png --out predictions/
  mcn predict photo.jpg --pretrained --preset tiny --out predictions/
  mcn predict --checkpoint runs/tiny/best.pt photo1.jpg photo2.png --out predictions/
  mcn predict --checkpoint runs/tiny/best.pt data/synth/test/*.jpg --out pred --min-score 0.5
  mcn predict --checkpoint runs/tiny/best.pt scene.jpg --out pred --scales 0.5,1,1.25 --scale-band 8,48"""


def add_parser(commands: Any) -> None:
    """The "predict" command."""
    p = add_command(commands, "predict", "draw detections and masks on images", cmd_predict, EXAMPLES)
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a .pt file written by mcn train")
    model.add_argument("--pretrained", nargs="?", const="mask-cornernet", metavar="VARIANT",
                       help="a trained model the package ships (default variant: mask-cornernet)")
    p.add_argument("--preset", help="with --pretrained: the preset of the shipped model "
                                    "(default: mcn.checkpoint.DEFAULT_PRESET)")
    p.add_argument("images", nargs="*", help="image files (jpg, png, ...) or folders of them, at least one")
    p.add_argument("--out", required=True, help="folder for <image>.png and predictions.json")
    p.add_argument("--min-score", type=float, default=0.3, help="draw/keep detections with score >= this, 0-1 (default: 0.3)")
    p.add_argument("--input-size", type=int, help="network input side (default: the run's)")
    p.add_argument("--top-k", type=int, default=100, help="corners kept per type (default: 100)")
    add_join_option(p, "keep every pair")
    add_scale_options(p)
    add_run_options(p)


#: the file suffixes a folder given as input is searched for
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def image_inputs(names: list[str]) -> list[Path]:
    """The image files named, folders expanded to their images; every missing one at once."""
    found, missing = [], []
    for name in names:
        path = Path(name)
        if path.is_dir():
            images = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise UserError(f"folder {path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
            found += images
        elif path.is_file():
            found.append(path)
        else:
            missing.append(name)
    if missing:
        raise FileNotFoundError(f"image file(s) not found: {', '.join(missing)} (nothing was written)")
    return found


def output_paths(images: list[Path], out: Path) -> list[Path]:
    """``OUT/<stem>.png`` for each image, refusing any that would replace an input's file.

    Two inputs with the same stem (from different folders) get distinct names.
    """
    stems: set[str] = set()
    targets = []
    for image in images:
        stem = image.stem
        while stem in stems:
            stem += "_"
        stems.add(stem)
        targets.append(out / f"{stem}.png")
    input_folders = {image.parent.resolve() for image in images}
    if out.resolve() in input_folders:
        # Inside an input folder every existing file is the user's: never replace one.
        taken = [t for t in targets + [out / "predictions.json"] if t.exists()]
        if taken:
            raise FileExistsError(f"--out {out}: writing {taken[0].name} would overwrite the "
                                  f"input folder's file {taken[0]}; choose another --out "
                                  "(nothing was written)")
    return targets


def cmd_predict(args: argparse.Namespace) -> int:
    """Detect, draw and list the signs of each image file."""
    from mcn.checkpoint import load_model
    from mcn.data.images import load_image
    from mcn.data.tt100k_format import prediction_record
    from mcn.inference import predict_image
    from mcn.provenance import provenance, write_json
    from mcn.train.distributed import resolve_device
    from mcn.viz.draw import draw_prediction, write_png

    apply_threads(args)
    if not 0.0 <= args.min_score <= 1.0:
        raise UserError(f"--min-score must lie in [0, 1], got {args.min_score}")
    join_setting = join_ratio(args)
    out = Path(args.out)
    # Every input is found and decodes, and no output replaces a file, before anything is written.
    images = image_inputs(args.images)
    targets = output_paths(images, out)
    for name in images:
        load_image(name)
    device = resolve_device(args.device)
    checkpoint = predict_checkpoint(args)
    model, state = load_model(checkpoint, device)
    classes = list(state["classes"])
    input_size = args.input_size or model.input_size
    records = []
    for name, target in zip(images, targets):
        image = load_image(name)
        prediction = predict_image(model, image, input_size, top_k=args.top_k, device=device,
                                   scales=args.scales, scale_band=args.scale_band,
                                   join_ratio=join_setting)
        write_png(target, draw_prediction(image, prediction, classes, args.min_score))
        records.append(prediction_record(prediction, classes, str(name), args.min_score))
        kept = len(records[-1]["objects"])
        print(f"{name}: {kept} detection(s) with score >= {args.min_score:g} -> {target}")
    write_json(out / "predictions.json", {
        "provenance": provenance(None, None, device, checkpoint=str(checkpoint),
                                 variant=state["variant"], input_size=input_size,
                                 min_score=args.min_score, join_ratio=join_setting,
                                 **scale_record(args)),
        "classes": classes, "images": records})
    print(f"wrote {out / 'predictions.json'}")
    return 0


def predict_checkpoint(args: argparse.Namespace) -> Path:
    """The checkpoint ``mcn predict`` runs: --checkpoint, or the shipped --pretrained one."""
    from mcn.checkpoint import DEFAULT_PRESET, pretrained_path

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
