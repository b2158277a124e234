"""A tiny untrained Mask-CornerNet, three scenes and one run of it, shared by the view
tests."""

from __future__ import annotations

import pytest
import torch

from mcn import viz as W
from mcn.data import SyntheticSigns
from mcn.models import build_model
from tests.viz.views import CLASSES, SIZE


@pytest.fixture(scope="package")
def dataset():
    return SyntheticSigns(3, image_size=SIZE, seed=5, classes=CLASSES)


@pytest.fixture(scope="package")
def model():
    torch.manual_seed(0)
    return build_model("mask-cornernet", num_classes=len(CLASSES), preset="tiny").eval()


@pytest.fixture(scope="package")
def run(model, dataset):
    return W.run_model(model, dataset, 1, SIZE)
