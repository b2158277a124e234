"""ONNX export: the scan that replaces cummax pools exactly like corner pooling."""

from __future__ import annotations

import pytest
import torch

from mcn.export import output_names, scan_corner_pool
from mcn.models import HEAD_KEYS, build_model
from mcn.nn.corner_pool import corner_pool


@pytest.mark.parametrize("direction", ["top", "left", "bottom", "right"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (1, 2, 8, 3), (1, 1, 9, 16)])
def test_the_export_pooling_equals_cummax_pooling(direction, shape):
    generator = torch.Generator().manual_seed(sum(shape))
    values = torch.randint(-3, 4, shape, generator=generator).float()  # many ties
    assert torch.equal(scan_corner_pool(values, direction), corner_pool(values, direction))
    noise = torch.randn(shape, generator=generator)
    assert torch.equal(scan_corner_pool(noise, direction), corner_pool(noise, direction))


def test_the_export_pooling_by_hand():
    row = torch.tensor([[[[2.0, 1, 3, 0, 2]]]])  # the hand-worked vectors of the pooling tests
    assert scan_corner_pool(row, "left").flatten().tolist() == [3, 3, 3, 2, 2]
    assert scan_corner_pool(row, "right").flatten().tolist() == [2, 2, 3, 3, 3]
    column = torch.tensor([3.0, 1, 3, 2, 0]).reshape(1, 1, 5, 1)
    assert scan_corner_pool(column, "top").flatten().tolist() == [3, 3, 3, 2, 0]
    assert scan_corner_pool(column, "bottom").flatten().tolist() == [3, 3, 3, 3, 3]


def test_the_onnx_outputs_are_the_head_keys_then_the_mask():
    assert output_names(build_model("cornernet-squeeze", 3, "tiny")) == list(HEAD_KEYS)
    assert output_names(build_model("mask-cornernet", 3, "tiny")) == list(HEAD_KEYS) + ["mask"]
