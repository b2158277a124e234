"""TrainConfig and its recipes: the paper's setting, unknown names refused, a dict round
trip."""

from __future__ import annotations

import json

import pytest

from mcn.train import TINY, TrainConfig, get_config
from tests.train.small_runs import small_config


def test_presets_hold_the_paper_setting():
    paper = get_config("paper")
    assert (paper.batch_size, paper.lr, paper.decay_every, paper.input_size) == (13, 2.5e-4, 180_000, 512)
    assert paper.decay_factor == 0.1
    assert TINY.model_preset == "tiny" and TINY.input_size % 64 == 0


def test_get_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown training preset 'huge'"):
        get_config("huge")
    with pytest.raises(ValueError, match="unknown TrainConfig fields: batch"):
        get_config("tiny", batch=3)
    with pytest.raises(ValueError, match="amp"):
        get_config("tiny", amp="fp8")


def test_config_round_trips_through_a_dict():
    config = small_config(classes=("pn", "pne"))
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_model_width_overrides_the_preset_width():
    config = small_config(model_width=0.125)
    assert config.model_config.width == 0.125 and small_config().model_config.width == 0.0625
