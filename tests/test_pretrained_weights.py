"""The trained weights the package ships, found by preset and variant, and the version."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pytest
import torch

import mcn
from mcn.models import VARIANTS
from mcn.checkpoint import (DEFAULT_PRESET, Pretrained, load_model, pretrained, pretrained_path,
                            shipped_checkpoint, shipped_weights)


def test_the_tiny_preset_ships_every_variant_and_the_book_preset_two():
    assert shipped_weights()["tiny"] == sorted(VARIANTS)
    assert shipped_weights()["book"] == ["cornernet-squeeze", "mask-cornernet"]
    assert DEFAULT_PRESET in shipped_weights()


def test_pretrained_gives_the_shipped_model_in_eval_mode_with_its_classes():
    model, classes = mcn.pretrained("cornernet-squeeze", preset="tiny")
    assert not model.training and model.variant == "cornernet-squeeze"
    reference, state = load_model(shipped_checkpoint("cornernet-squeeze", "tiny"))
    assert classes == list(state["classes"]) and len(classes) == model.num_classes
    for name, tensor in reference.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name


def test_the_defaults_are_mask_cornernet_of_the_default_preset():
    found = pretrained()
    assert isinstance(found, Pretrained) and found.model.variant == "mask-cornernet"
    assert pretrained_path() == shipped_checkpoint() == shipped_checkpoint("mask-cornernet",
                                                                            DEFAULT_PRESET)
    assert mcn.pretrained is pretrained


def test_unknown_variants_and_presets_name_what_there_is():
    with pytest.raises(ValueError, match="no pretrained 'resnet' in preset 'tiny'; "
                                         "available: cornernet-fire, .*mask-cornernet$"):
        pretrained("resnet", preset="tiny")
    with pytest.raises(ValueError, match="no pretrained 'cornernet-fire' in preset 'book'; "
                                         "available: cornernet-squeeze, mask-cornernet$"):
        pretrained("cornernet-fire", preset="book")
    with pytest.raises(ValueError, match=r"no pretrained preset 'huge'; available: .*tiny"):
        pretrained(preset="huge")
    assert shipped_checkpoint("resnet") is None and shipped_checkpoint(preset="huge") is None


def test_the_version_comes_from_the_package_metadata():
    try:
        expected = version("mcn")
    except PackageNotFoundError:
        expected = "unknown"
    assert mcn.__version__ == expected and mcn.__version__ != ""
