"""ModelConfig: errors naming the field, a JSON round trip, the published stride-8 network,
checkpoints written before the newer fields existed."""

import dataclasses

import pytest
import torch

from mcn.models import PRESETS, ModelConfig, build_model
from mcn.nn import count_parameters


def test_config_errors():
    with pytest.raises(ValueError, match="multiple of 64"):
        ModelConfig(input_size=500)
    with pytest.raises(ValueError, match="sge_groups"):
        build_model("cornernet-fire", preset=PRESETS["tiny"].replace(sge_groups=7))
    with pytest.raises(ValueError, match="mask_groups"):
        build_model("cornernet-mask", preset=PRESETS["tiny"].replace(mask_groups=12))
    # the same config is fine for a variant that has no SGE
    build_model("cornernet-squeeze", preset=PRESETS["tiny"].replace(sge_groups=7))


def test_config_survives_a_json_round_trip():
    import dataclasses
    import json

    tiny = PRESETS["tiny"]
    again = ModelConfig(**json.loads(json.dumps(dataclasses.asdict(tiny))))
    assert again == tiny and isinstance(again.dims, tuple)
    assert again.scale(256) == 16 and PRESETS["paper"].scale(256) == 256


def test_old_checkpoint_configs_read_with_the_settings_they_were_trained_with():
    stored = dataclasses.asdict(PRESETS["tiny"])
    for name in ("ema_lambda", "ema_normalise", "stem_stride"):
        stored.pop(name)
    config = ModelConfig.from_dict(stored)
    assert (config.ema_lambda, config.ema_normalise, config.stem_stride) == (1.0, False, 4)
    with pytest.raises(ValueError, match="nosuch"):
        ModelConfig.from_dict({**stored, "nosuch": 1})
