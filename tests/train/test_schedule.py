"""The learning-rate schedule by hand, and what build_training checks."""

from __future__ import annotations

import pytest
import torch

from mcn.train import TrainConfig, learning_rate_factor
from tests.train.small_runs import small_config


def test_learning_rate_schedule_by_hand():
    config = TrainConfig(lr=1.0, warmup_iters=10, decay_every=100, decay_factor=0.1)
    assert learning_rate_factor(0, config) == pytest.approx(0.01)
    assert learning_rate_factor(5, config) == pytest.approx(0.01 + 0.99 * 0.5)
    assert learning_rate_factor(10, config) == pytest.approx(1.0)
    assert learning_rate_factor(99, config) == pytest.approx(1.0)
    assert learning_rate_factor(100, config) == pytest.approx(0.1)
    assert learning_rate_factor(250, config) == pytest.approx(0.01)
    no_warmup = TrainConfig(warmup_iters=0, decay_every=180_000)
    assert learning_rate_factor(0, no_warmup) == 1.0
    assert learning_rate_factor(180_000, no_warmup) == pytest.approx(0.1)


def test_cosine_schedule_by_hand():
    config = TrainConfig(lr=1.0, iters=100, warmup_iters=0, lr_schedule="cosine")
    assert learning_rate_factor(0, config) == pytest.approx(1.0)
    assert learning_rate_factor(50, config) == pytest.approx(0.5)
    assert learning_rate_factor(75, config) == pytest.approx(0.5 * (1 + 2 ** -0.5 * -1))
    assert learning_rate_factor(100, config) == pytest.approx(0.0)
    warm = TrainConfig(lr=1.0, iters=100, warmup_iters=10, lr_schedule="cosine")
    assert learning_rate_factor(0, warm) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="lr_schedule must be step or cosine"):
        TrainConfig(lr_schedule="linear")


def test_evaluation_may_use_a_larger_input_than_training():
    config = small_config(input_size=64, eval_input_size=128)
    assert config.eval_size == 128 and small_config().eval_size == 64
    with pytest.raises(ValueError, match="eval_input_size=100 must be a multiple of 64"):
        from mcn.train import build_training
        build_training(small_config(eval_input_size=100), 3, torch.device("cpu"))


def test_the_trained_model_carries_the_runs_evaluation_side():
    from mcn.train import build_training
    model, _, _ = build_training(small_config(input_size=64, eval_input_size=128), 3,
                                 torch.device("cpu"))
    assert model.input_size == 128 and model.config.input_size == 128
    model, _, _ = build_training(small_config(input_size=64), 3, torch.device("cpu"))
    assert model.input_size == 64
