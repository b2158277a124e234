"""Data specifications and build_dataset: paths checked, synthetic seeds kept apart,
training scenes that may differ from the validation mix."""

from __future__ import annotations

import json

import pytest
import torch

from mcn.data.sources import build_dataset, parse_data_spec, synthetic_seeds
from mcn.train import TINY, train
from tests.train.small_runs import small_config


def test_training_scenes_may_be_denser_and_balanced_validation_keeps_the_mix():
    config = small_config(train_signs_per_image=6.0, train_class_balance="uniform")
    training, validation = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    assert training.signs_per_image == 6.0 and training.class_balance == "uniform"
    assert validation.signs_per_image == 2.5 and validation.class_balance == config.class_balance
    assert build_dataset("synth", small_config(), "train").signs_per_image == TINY.train_signs_per_image
    plain = build_dataset("synth", small_config(train_signs_per_image=None), "train")
    assert plain.signs_per_image == 2.5 and plain.class_balance == "tt100k"


def test_oversampling_changes_the_training_scenes_only():
    config = small_config(train_class_balance="uniform", train_oversample={"pn": 4.0})
    training, validation = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    others = training.weights[1:]
    assert training.weights[0] == pytest.approx(4 * others[0]) and others.min() == others.max()
    assert validation.oversample == {} and "oversample" not in repr(validation)
    assert "oversample={'pn': 4.0}" in repr(training)
    with pytest.raises(ValueError, match="--oversample .*'nope' is not one of the classes"):
        small_config(train_oversample={"nope": 2.0})


def test_size_oversampling_changes_the_training_scenes_only():
    config = small_config(train_size_oversample={"large": 3.0})
    training, validation = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    assert training.size_oversample == {"large": 3.0} and validation.size_oversample == {}
    assert "size_oversample={'large': 3.0}" in repr(training)
    assert "size_oversample" not in repr(validation)


def test_lookalikes_change_the_training_scenes_only():
    config = small_config(train_lookalikes=3.0)
    training, validation = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    assert training.lookalikes == 3.0 and validation.lookalikes == 1.0
    assert build_dataset("synth", small_config(), "train").lookalikes == 1.0


def test_data_spec_parsing_and_missing_paths(tmp_path):
    assert parse_data_spec("synth").kind == "synth"
    assert parse_data_spec(f"tt100k:{tmp_path}").root == tmp_path
    with pytest.raises(FileNotFoundError, match="nowhere"):
        parse_data_spec(f"tt100k:{tmp_path / 'nowhere'}")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        parse_data_spec(f"coco:{tmp_path / 'missing.json'}")
    ann = tmp_path / "ann.json"
    ann.write_text("{}")
    spec = parse_data_spec(f"coco:{ann}")
    assert spec.image_dir == tmp_path  # images default to the annotation file's folder
    with pytest.raises(FileNotFoundError, match="imgs"):
        parse_data_spec(f"coco:{ann}:{tmp_path / 'imgs'}")
    with pytest.raises(ValueError, match="expected synth"):
        parse_data_spec("voc:/data")


def test_synthetic_train_and_validation_scenes_never_coincide():
    train_seed, val_seed = synthetic_seeds(3)
    assert train_seed % 2 == 0 and val_seed % 2 == 1
    assert {synthetic_seeds(k)[0] for k in range(50)}.isdisjoint(
        {synthetic_seeds(k)[1] for k in range(50)})
    config = small_config(val_images=2)
    train_set, val_set = build_dataset("synth", config, "train"), build_dataset("synth", config, "val")
    assert not torch.equal(train_set[0][0], val_set[0][0])
