"""The runs the experiment tests score: two variants, the tiny recipe cut to two iterations."""

from __future__ import annotations

from mcn.classes import top_classes
from mcn.train import get_config

VARIANTS = ("cornernet-squeeze", "mask-cornernet")


def small_config(**changes):
    fields = dict(input_size=64, image_size=128, batch_size=2, iters=2, train_images=4,
                  val_images=0, num_workers=0, ckpt_every=2, classes=top_classes(3),
                  eval_minscore=0.0)
    fields.update(changes)
    return get_config("tiny", **fields)


def experiment_rows(name, runs, out, capsys):
    """``mcn experiment NAME`` on ``runs`` (4 test scenes), its rows read back from ``out``."""
    import json

    from tests.cli.running import run_cli

    status, _, _ = run_cli(["experiment", name, "--runs", str(runs), "--num", "4",
                            "--out", str(out), "--quiet", "--threads", "1"], capsys)
    assert status == 0
    return json.loads(out.read_text())["rows"]
