"""The convolution blocks: a strided 1x1 convolution computed by subsampling first."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcn.nn import ConvBN, Fire, SubsampledPointwiseConv, conv2d


@pytest.mark.parametrize("size", [(16, 16), (15, 9)])  # odd sides: the output rounds up
@pytest.mark.parametrize("stride", [2, 3])
def test_subsampling_then_a_1x1_convolution_is_the_strided_1x1_convolution(size, stride):
    torch.manual_seed(0)
    plain = nn.Conv2d(6, 5, 1, stride=stride, bias=False)
    fast = SubsampledPointwiseConv(6, 5, stride)
    fast.load_state_dict(plain.state_dict())  # same weights, same names
    x = torch.randn(2, 6, *size, requires_grad=True)
    x_fast = x.detach().clone().requires_grad_()
    y, y_fast = plain(x), fast(x_fast)
    assert y_fast.shape == y.shape
    torch.testing.assert_close(y_fast, y, rtol=0, atol=1e-5)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    (y_fast * g).sum().backward()
    torch.testing.assert_close(x_fast.grad, x.grad, rtol=0, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=0, atol=1e-5)


def test_only_strided_1x1_convolutions_subsample():
    assert isinstance(conv2d(4, 4, 1, 2), SubsampledPointwiseConv)
    assert type(conv2d(4, 4, 1, 1)) is nn.Conv2d and type(conv2d(4, 4, 3, 2)) is nn.Conv2d
    assert conv2d(4, 4, 3, 2).padding == (1, 1)
    assert isinstance(ConvBN(4, 8, 1, stride=2)[0], SubsampledPointwiseConv)
    assert isinstance(Fire(8, 8, stride=2).expand_1x1, SubsampledPointwiseConv)
    assert type(Fire(8, 8, stride=1).expand_1x1) is nn.Conv2d
