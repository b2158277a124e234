"""The hourglass: shapes and recursive structure, errors, the parameter count."""

import pytest
import torch

from mcn.nn import Hourglass, count_parameters, hourglass_params


def test_hourglass_shapes_and_structure():
    hg = Hourglass([8, 8, 16], [2, 2, 3])
    x = torch.randn(2, 8, 16, 12)
    assert hg(x).shape == x.shape
    # down branch: first fire strided and widening, the rest keep the width
    assert hg.down[0].expand_1x1.stride == (2, 2) and hg.down[0].expand_bn.num_features == 8
    assert len(hg.upper) == 2 and len(hg.down) == 2 and len(hg.up) == 2
    assert isinstance(hg.inner, Hourglass) and len(hg.inner.inner) == 3  # bottom: modules[-1] fires
    assert hg.inner.up[-1].expand_bn.num_features == 8  # the last fire of a level returns to dims[0]
    assert hg.upsample.kernel_size == (4, 4) and hg.upsample.stride == (2, 2)


def test_hourglass_errors():
    with pytest.raises(ValueError, match="same length"):
        Hourglass([8, 8], [2])
    with pytest.raises(ValueError, match=">= 1"):
        Hourglass([8, 8], [2, 0])


def test_hourglass_parameter_count_matches_the_formula():
    dims, modules = [32, 32, 48, 48, 64], [2, 2, 2, 2, 4]
    assert count_parameters(Hourglass(dims, modules)) == hourglass_params(dims, modules)
    assert count_parameters(Hourglass(dims, modules, 8)) == hourglass_params(dims, modules, 8)
