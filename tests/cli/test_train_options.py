"""``mcn train``'s options come from TrainConfig's fields: the same flags as ever, each read
into its field the way its metadata says."""

from __future__ import annotations

import dataclasses

import pytest

from mcn.cli import build_parser
from mcn.cli.train import config_options, train_config
from mcn.train import TINY, TrainConfig

#: The options of ``mcn train`` before they were generated from the configuration.
FLAGS = ("--variant", "--model-preset", "--width", "--iters", "--batch-size", "--accum-steps",
         "--lr", "--warmup", "--decay-every", "--schedule", "--grad-clip", "--amp",
         "--channels-last", "--input-size", "--eval-input-size", "--image-size", "--classes",
         "--train-images", "--signs-per-image", "--train-balance", "--val-images", "--workers",
         "--seed", "--deterministic", "--no-augment", "--eval-every", "--ckpt-every",
         "--minscore", "--ae-threshold", "--loss-weights", "--time-limit")
#: Options added since (flags are added, never renamed).
ADDED = ("--keep", "--init", "--oversample", "--oversample-sizes", "--join-ratio",
         "--lookalikes")


def parse(*options: str):
    return build_parser().parse_args(["train", "--out", "runs/x", *options])


def test_every_historic_flag_is_a_field_option_with_help(capsys):
    flags = {f.metadata["flag"]: f for f in config_options()}
    assert sorted(flags) == sorted(FLAGS + ADDED)
    assert all(f.metadata["help"] for f in flags.values())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = capsys.readouterr().out
    for flag in FLAGS + ("--preset", "--data", "--out", "--resume", "--device", "--threads", "--quiet"):
        assert flag in help_text, flag
    assert "--time-limit MINUTES" in help_text and "--loss-weights TERM=W,..." in help_text


def test_no_option_keeps_the_preset():
    assert train_config(parse()) == TINY
    assert train_config(parse("--preset", "paper")) == TrainConfig()


def test_options_are_read_into_their_fields():
    config = train_config(parse("--warmup", "7", "--time-limit", "2", "--loss-weights", "pull=0.5",
                                "--classes", "top3", "--width", "0.125", "--minscore", "30",
                                "--channels-last"))
    changed = {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)
               if getattr(config, f.name) != getattr(TINY, f.name)}
    assert changed == {
        "warmup_iters": 7, "time_limit_s": 120.0,  # --time-limit is in minutes
        "loss_weights": {**TINY.loss_weights, "pull": 0.5},  # the preset's, one changed
        "classes": ("pn", "pne", "i5"), "model_width": 0.125, "eval_minscore": 30.0,
        "channels_last": True,
    }
    assert TrainConfig().augment and not train_config(parse("--preset", "paper", "--no-augment")).augment


def test_bad_loss_weights_name_the_term():
    with pytest.raises(ValueError, match="unknown term 'pul'; terms: det, pull, push, off, mask"):
        train_config(parse("--loss-weights", "pul=1"))
    with pytest.raises(ValueError, match="'pull' is not NAME=NUMBER"):
        train_config(parse("--loss-weights", "pull"))


def test_oversample_reads_class_factors_and_names_a_bad_class():
    config = train_config(parse("--oversample", "pl40=3,pl50=2.5"))
    assert config.train_oversample == {"pl40": 3.0, "pl50": 2.5}
    with pytest.raises(ValueError, match="--oversample .*'pl4' is not one of the classes"):
        train_config(parse("--oversample", "pl4=2"))
    with pytest.raises(ValueError, match="--oversample: 'pl40' is not NAME=NUMBER"):
        train_config(parse("--oversample", "pl40"))


def test_lookalikes_reads_a_factor_and_names_a_bad_one():
    assert train_config(parse("--lookalikes", "3")).train_lookalikes == 3.0
    assert train_config(parse()).train_lookalikes is None
    with pytest.raises(ValueError, match=r"--lookalikes \(train_lookalikes\) must be in 0-5, got 7"):
        train_config(parse("--lookalikes", "7"))


def test_oversample_sizes_reads_bin_factors_and_names_a_bad_bin():
    config = train_config(parse("--oversample-sizes", "large=2.5"))
    assert config.train_size_oversample == {"large": 2.5}
    assert train_config(parse()).train_size_oversample is None
    with pytest.raises(ValueError, match="--oversample-sizes .*'huge' is not one of the size bins"):
        train_config(parse("--oversample-sizes", "huge=2"))
    with pytest.raises(ValueError, match="--oversample-sizes .*large=-1 must be a finite number > 0"):
        train_config(parse("--oversample-sizes", "large=-1"))
