"""Bad input, one table: each mistake ends in one line naming what is wrong, no traceback.

Every row runs ``mcn ARGS`` in this process against a small workspace (a synthetic
TT100K folder, an untrained tiny checkpoint and broken copies of both) and checks the
exit code and a fragment of the single stderr line. Nothing here trains more than the
checks before the first step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mcn.checkpoint import save_checkpoint
from mcn.classes import top_classes
from mcn.cli import main
from mcn.data.synthetic import SyntheticSigns
from mcn.data.tt100k_writer import write_tt100k
from mcn.models import build_model
from mcn.train import get_config
from tests.test_checkpoint import flip_bytes_in_largest_tensor

# The issue's $R: a tiny synthetic run on the CPU.
R = ["--data", "synth", "--image-size", "128", "--input-size", "128", "--train-images", "16",
     "--val-images", "0", "--batch-size", "2", "--threads", "1", "--seed", "3",
     "--device", "cpu", "--quiet", "--classes", "top3", "--workers", "0"]
TRAIN = ["train", "--out", "{ws}/new"] + R
CKPT = "{ws}/model.pt"
# Training on a TT100K-layout folder whose image 0 does not decode, in one loader worker.
REAL_TRAIN = ["train", "--data", "tt100k:{ws}/bad_train", "--input-size", "128", "--batch-size", "2",
              "--iters", "1", "--val-images", "0", "--threads", "1", "--device", "cpu", "--quiet",
              "--classes", "top3", "--workers", "1"]


def checkpoint_state(variant: str = "cornernet-squeeze", classes=top_classes(3)) -> dict:
    """An untrained tiny model as ``mcn train`` would save it."""
    config = get_config("tiny", variant=variant, classes=classes, input_size=128)
    model = build_model(variant, len(classes), "tiny")
    return {"variant": variant, "model_preset": "tiny", "num_classes": len(classes),
            "classes": list(classes), "iteration": 0, "config": config.to_dict(),
            "data": "synth", "model": model.state_dict()}


def tt100k_copy(root: Path, name: str, change) -> None:
    """A copy of the synthetic TT100K folder whose annotations ``change`` edits."""
    copy = root / name
    (copy / "test").mkdir(parents=True)
    for f in (root / "synth" / "test").iterdir():
        (copy / "test" / f.name).write_bytes(f.read_bytes())
    annotations = json.loads((root / "synth" / "annotations.json").read_text())
    text = change(annotations)
    (copy / "annotations.json").write_text(text if isinstance(text, str) else json.dumps(annotations))


def first_object(annotations: dict) -> dict:
    return next(o for img in annotations["imgs"].values() for o in img["objects"])


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    write_tt100k(SyntheticSigns(2, 128, 1, top_classes(3), signs_per_image=4.0), root / "synth",
                 split="test", renumber=True, progress=False)
    good = save_checkpoint(root / "model.pt", checkpoint_state())
    data = good.read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    (root / "empty.pt").write_bytes(b"")
    torch.save(checkpoint_state()["model"], root / "plain.pt")
    nan = checkpoint_state()
    next(iter(nan["model"].values())).fill_(float("nan"))
    save_checkpoint(root / "nan.pt", nan)
    save_checkpoint(root / "other" / "last.pt", checkpoint_state())  # cornernet-squeeze, 3 classes
    (root / "imgs").mkdir()
    (root / "imgs" / "photo.png").write_bytes((root / "synth" / "test" / "0.jpg").read_bytes())
    tt100k_copy(root, "truncated_json", lambda a: json.dumps(a)[:50])
    tt100k_copy(root, "inverted_box", lambda a: first_object(a)["bbox"].update(xmin=100, xmax=10))
    tt100k_copy(root, "nan_box", lambda a: first_object(a)["bbox"].update(ymin=float("nan")))
    tt100k_copy(root, "missing_image", lambda a: (root / "missing_image" / "test" / "0.jpg").unlink())
    tt100k_copy(root, "undecodable", lambda a: (root / "undecodable" / "test" / "0.jpg").write_bytes(b"no jpeg"))
    tt100k_copy(root, "zero_box", lambda a: first_object(a)["bbox"].update(xmax=first_object(a)["bbox"]["xmin"]))
    tt100k_copy(root, "unknown_category", lambda a: first_object(a).update(category="pl5O"))
    write_tt100k(SyntheticSigns(2, 128, 2, top_classes(3), signs_per_image=4.0), root / "bad_train",
                 split="train", renumber=True, progress=False)
    (root / "bad_train" / "train" / "0.jpg").write_bytes(b"no jpeg")
    flipped = root / "flipped.pt"
    flipped.write_bytes(data)
    flip_bytes_in_largest_tensor(flipped)
    # a cornernet-squeeze's weights in a file that says mask-cornernet
    save_checkpoint(root / "mislabelled.pt", {**checkpoint_state(), "variant": "mask-cornernet"})
    return root


CASES = [
    # --- training options out of their range (issue items 3, 4, 7)
    ("grad clip < 0", TRAIN + ["--grad-clip", "-1"], "--grad-clip (grad_clip) must be a finite number > 0", 1),
    ("ckpt every 0", TRAIN + ["--ckpt-every", "0"], "--ckpt-every (ckpt_every) must be >= 1, got 0", 1),
    ("keep 0", TRAIN + ["--keep", "0"], "--keep (keep) must be >= 1, got 0", 1),
    ("eval every < 0", TRAIN + ["--eval-every", "-5"], "--eval-every (eval_every) must be >= 0", 1),
    ("warmup < 0", TRAIN + ["--warmup", "-10"], "--warmup (warmup_iters) must be >= 0", 1),
    ("val images < 0", TRAIN + ["--val-images", "-1"], "--val-images (val_images) must be >= 0", 1),
    ("time limit < 0", TRAIN + ["--time-limit", "-1"], "--time-limit (time_limit_s) must be >= 0, got -1", 1),
    ("threads 0", TRAIN + ["--threads", "0"], "--threads must be >= 1, got 0", 1),
    ("minscore 500", TRAIN + ["--minscore", "500"], "--minscore (eval_minscore) must be in 0-100", 1),
    ("minscore -5", TRAIN + ["--minscore", "-5"], "--minscore (eval_minscore) must be in 0-100", 1),
    ("negative loss weight", TRAIN + ["--loss-weights", "det=-1"], "--loss-weights: det=-1 must be", 1),
    ("lr inf", TRAIN + ["--lr", "inf"], "--lr (lr) must be a finite number > 0, got inf", 1),
    ("lr nan", TRAIN + ["--lr", "nan"], "--lr (lr) must be a finite number > 0, got nan", 1),
    ("unknown class", TRAIN + ["--classes", "nosuch,pn"], "no look is known for nosuch", 1),
    ("unknown variant", TRAIN + ["--variant", "nosuch"], "nosuch", 1),
    ("unknown preset", TRAIN + ["--preset", "nosuch"], "invalid choice: 'nosuch'", 2),
    ("input not a stride multiple", TRAIN + ["--input-size", "100"], "must be a multiple of", 1),
    ("resume another variant", ["train", "--out", "{ws}/other", "--resume", "--variant", "mask-cornernet"] + R,
     "is variant 'cornernet-squeeze' but the run asks for 'mask-cornernet'", 1),
    ("resume another class count", ["train", "--out", "{ws}/other", "--resume", "--variant",
                                    "cornernet-squeeze"] + R + ["--classes", "top5"],
     "has 3 classes but the run asks for 5", 1),
    ("resume a missing checkpoint", TRAIN + ["--resume", "{ws}/nowhere.pt"], "no checkpoint", 1),
    # --- checkpoints
    ("truncated checkpoint", ["eval", "--checkpoint", "{ws}/truncated.pt", "--data", "synth", "--out", "{ws}/e"],
     "is truncated or corrupt", 1),
    ("empty checkpoint", ["eval", "--checkpoint", "{ws}/empty.pt", "--data", "synth", "--out", "{ws}/e"],
     "is truncated or corrupt", 1),
    ("plain state dict", ["eval", "--checkpoint", "{ws}/plain.pt", "--data", "synth", "--out", "{ws}/e"],
     "is not an mcn training checkpoint", 1),
    ("non-finite checkpoint", ["eval", "--checkpoint", "{ws}/nan.pt", "--data", "synth", "--out", "{ws}/e"],
     "holds non-finite weights", 1),
    ("flipped bytes in a checkpoint (item 8)", ["eval", "--checkpoint", "{ws}/flipped.pt", "--data", "synth",
                                                "--out", "{ws}/e"], "checksum mismatch: {ws}/flipped.pt is corrupted", 1),
    ("flipped bytes, resumed", ["train", "--out", "{ws}/other", "--resume", "{ws}/flipped.pt", "--variant",
                                "cornernet-squeeze"] + R, "checksum mismatch: {ws}/flipped.pt is corrupted", 1),
    ("weights of another variant (item 10)", ["eval", "--checkpoint", "{ws}/mislabelled.pt", "--data", "synth",
                                              "--out", "{ws}/e"], "weights missing (e.g. ", 1),
    # --- evaluation (item 6)
    ("eval --num 0", ["eval", "--checkpoint", CKPT, "--data", "synth", "--num", "0", "--out", "{ws}/e"],
     "--num must be >= 1, got 0", 1),
    ("eval --minscore 500", ["eval", "--checkpoint", CKPT, "--data", "synth", "--minscore", "500",
                             "--out", "{ws}/e"], "--minscore is on the 0-100 scale", 1),
    ("eval --join-ratio 0", ["eval", "--checkpoint", CKPT, "--data", "synth", "--join-ratio", "0",
                             "--out", "{ws}/e"], "--join-ratio: expected a number > 0, got 0", 1),
    ("train --join-ratio -1", TRAIN + ["--join-ratio", "-1"],
     "--join-ratio (join_ratio) must be > 0 (leave it out to keep every pair), got -1", 1),
    # --- data (the TT100K layout)
    ("truncated annotations", ["data", "stats", "--data", "tt100k:{ws}/truncated_json", "--split", "test",
                               "--classes", "top3"], "is not valid JSON", 1),
    ("inverted box", ["data", "stats", "--data", "tt100k:{ws}/inverted_box", "--split", "test",
                      "--classes", "top3"], "xmax < xmin", 1),
    ("NaN box", ["data", "stats", "--data", "tt100k:{ws}/nan_box", "--split", "test", "--classes", "top3"],
     "NaN or infinity", 1),
    ("missing image", ["data", "stats", "--data", "tt100k:{ws}/missing_image", "--split", "test",
                       "--classes", "top3", "--quiet"], "0.jpg", 1),
    ("class not in the data", ["data", "stats", "--data", "tt100k:{ws}/synth", "--split", "test",
                               "--classes", "nosuch"], "nosuch are not categories", 1),
    ("missing image, no --skip-bad", ["eval", "--checkpoint", CKPT, "--data", "tt100k:{ws}/missing_image",
                                      "--out", "{ws}/e"], "(--skip-bad on the command line)", 1),
    # --- data check (items 5, 7)
    ("data check: undecodable image", ["data", "check", "--data", "tt100k:{ws}/undecodable", "--quiet"],
     "1 problem(s) in 2 images", 1),
    ("data check: zero-size box", ["data", "check", "--data", "tt100k:{ws}/zero_box", "--quiet"],
     "1 problem(s) in 2 images", 1),
    ("data check: unknown category", ["data", "check", "--data", "tt100k:{ws}/unknown_category", "--quiet"],
     "1 problem(s) in 2 images", 1),
    ("data check: synth", ["data", "check", "--data", "synth"], "nothing to check", 1),
    # --- a corrupt image read by a DataLoader worker (item 5): the file, on one line
    ("corrupt image in a worker", REAL_TRAIN + ["--out", "{ws}/w"],
     "image file {ws}/bad_train/train/0.jpg (image id 0) could not be decoded", 1),
    # --- predict (items 2, 10, 11)
    ("predict would overwrite its input", ["predict", "--checkpoint", CKPT, "{ws}/imgs/photo.png",
                                           "--out", "{ws}/imgs"], "would overwrite", 1),
    ("predict with one missing input", ["predict", "--checkpoint", CKPT, "{ws}/imgs/photo.png",
                                        "{ws}/imgs/gone.jpg", "--out", "{ws}/p"], "not found: {ws}/imgs/gone.jpg", 1),
    ("predict an empty folder", ["predict", "--checkpoint", CKPT, "{ws}/other", "--out", "{ws}/p"],
     "holds no image files", 1),
    ("predict --join-ratio nan", ["predict", "--checkpoint", CKPT, "{ws}/imgs/photo.png",
                                  "--join-ratio", "nan", "--out", "{ws}/p"],
     "--join-ratio: expected a number > 0, got nan", 1),
    # --- export (item 9)
    ("opset too old", ["export", "--checkpoint", CKPT, "--onnx", "{ws}/m.onnx", "--opset", "5"],
     "--opset must be between 11 and", 1),
    ("opset too new", ["export", "--checkpoint", CKPT, "--onnx", "{ws}/m.onnx", "--opset", "99"],
     "--opset must be between 11 and", 1),
]


@pytest.mark.parametrize("args, fragment, status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_is_refused_in_one_line(ws, args, fragment, status, capsys):
    argv = [a.format(ws=ws) for a in args]
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == status, err
    assert fragment.format(ws=ws) in err
    assert "Traceback" not in err
    # one short line: argparse's usage lines aside, the error is one line
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and len(errors[0]) < 600, err


def test_nothing_is_written_when_predict_refuses(ws, capsys):
    for name in ("p", "e", "new"):
        assert not (ws / name).exists()
    assert {p.name for p in (ws / "imgs").iterdir()} == {"photo.png"}


def test_data_check_lists_every_problem_at_once(tmp_path, capsys):
    root = tmp_path / "allbad"
    write_tt100k(SyntheticSigns(4, 128, 5, top_classes(3), signs_per_image=4.0), root, split="test",
                 renumber=True, progress=False)
    annotations = json.loads((root / "annotations.json").read_text())
    objects = [o for key in ("2", "3") for o in annotations["imgs"][key]["objects"]]
    assert len(objects) >= 5
    objects[0]["bbox"]["ymin"] = float("nan")
    objects[1]["bbox"].update(xmin=100, xmax=10)
    objects[2]["bbox"]["ymax"] = objects[2]["bbox"]["ymin"]
    objects[3]["bbox"].update(xmin=500, xmax=520)
    objects[4]["category"] = "pl5O"
    (root / "annotations.json").write_text(json.dumps(annotations))
    (root / "test" / "0.jpg").write_bytes(b"no jpeg")
    (root / "test" / "1.jpg").unlink()
    with open(root / "test" / "ids.txt", "a") as f:
        f.write("99\n")
    try:
        code = main(["data", "check", "--data", f"tt100k:{root}", "--split", "test", "--quiet"])
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    assert code == 1
    listed = out.splitlines()
    for fragment in ("test/0.jpg could not be decoded", "test/1.jpg not found", "NaN or infinity",
                     "is inverted", "zero width or height", "lies outside the 128x128 image",
                     "unknown category 'pl5O'", "id 99 is listed in"):
        assert sum(fragment in line for line in listed) == 1, (fragment, out)
    assert len(listed) == 8 and "8 problem(s) in 4 images" in err


def test_data_stats_names_unknown_categories(ws, capsys):
    code = main(["data", "stats", "--data", f"tt100k:{ws}/unknown_category", "--split", "test",
                 "--classes", "top3", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    assert "1 object(s) of categories not in the \"types\"" in err and "pl5O (1)" in err


def test_skip_bad_leaves_out_and_counts_broken_images(ws, capsys):
    code = main([a.format(ws=ws) for a in REAL_TRAIN] + ["--out", str(ws / "skipping"), "--skip-bad"])
    out = capsys.readouterr().out
    assert code == 0
    assert "skipped 1 missing or broken image(s)" in out
    assert json.loads((ws / "skipping" / "summary.json").read_text())["skipped_images"] == 1
    for broken in ("undecodable", "missing_image"):
        code = main(["eval", "--checkpoint", str(ws / "model.pt"), "--data", f"tt100k:{ws}/{broken}",
                     "--out", str(ws / f"eval_{broken}"), "--skip-bad", "--quiet", "--no-coco",
                     "--device", "cpu"])
        out = capsys.readouterr().out
        assert code == 0 and "skipped 1 missing or broken image(s)" in out
        metrics = json.loads((ws / f"eval_{broken}" / "metrics.json").read_text())
        assert metrics["provenance"]["skipped_images"] == 1
        assert metrics["metrics"]["settings"]["num_images"] == 1
