"""SpatialGroupEnhance against a direct per-group computation (Li, Hu and Yang 2019)."""

import math

import pytest
import torch

from mcn.nn import SpatialGroupEnhance, count_parameters, sge_params


def direct_sge(x, weight, bias, groups, eps=1e-5):
    """SGE as Li, Hu and Yang (2019) define it, one (image, group) at a time, with plain Python sums."""
    b, c, h, w = x.shape
    per_group = c // groups
    out = torch.empty_like(x)
    for n in range(b):
        for g in range(groups):
            channels = x[n, g * per_group : (g + 1) * per_group].double()  # (C/G, H, W)
            mean_vector = [channels[k].mean() for k in range(per_group)]
            similarity = sum(channels[k] * mean_vector[k] for k in range(per_group))  # (H, W)
            values = similarity.flatten()
            mu = values.sum() / values.numel()
            std = math.sqrt(float(((values - mu) ** 2).sum()) / (values.numel() - 1))
            t = (similarity - mu) / (std + eps)
            a = float(weight[0, g, 0, 0]) * t + float(bias[0, g, 0, 0])
            gate = 1.0 / (1.0 + torch.exp(-a))
            out[n, g * per_group : (g + 1) * per_group] = (channels * gate).to(x.dtype)
    return out


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_matches_direct_computation(groups):
    gen = torch.Generator().manual_seed(0)
    sge = SpatialGroupEnhance(groups)
    with torch.no_grad():
        sge.weight.copy_(torch.randn(1, groups, 1, 1, generator=gen) * 2)
        sge.bias.copy_(torch.randn(1, groups, 1, 1, generator=gen))
    x = torch.randn(2, 8, 5, 4, generator=gen)
    expected = direct_sge(x, sge.weight.detach(), sge.bias.detach(), groups)
    torch.testing.assert_close(sge(x), expected, rtol=1e-5, atol=1e-6)


def test_initialisation_scales_everything_by_sigmoid_one():
    sge = SpatialGroupEnhance(4)
    assert sge.weight.shape == (1, 4, 1, 1) and sge.bias.shape == (1, 4, 1, 1)
    assert torch.all(sge.weight == 0) and torch.all(sge.bias == 1)
    x = torch.randn(3, 8, 6, 6)
    sigmoid_one = 1.0 / (1.0 + math.exp(-1.0))  # 0.7311
    torch.testing.assert_close(sge(x), x * sigmoid_one)


def test_non_divisible_channels_fail_at_construction():
    with pytest.raises(ValueError, match="not divisible"):
        SpatialGroupEnhance(32, channels=48)
    with pytest.raises(ValueError, match="groups"):
        SpatialGroupEnhance(0)
    with pytest.raises(ValueError, match="not divisible"):
        SpatialGroupEnhance(3)(torch.zeros(1, 8, 2, 2))


def test_single_position_is_finite():
    sge = SpatialGroupEnhance(2)
    with torch.no_grad():
        sge.weight.fill_(3.0)
    y = sge(torch.randn(2, 4, 1, 1))
    assert torch.isfinite(y).all()


def test_gradients_reach_weight_bias_and_input():
    sge = SpatialGroupEnhance(2)
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    sge(x).square().sum().backward()
    assert sge.weight.grad.abs().sum() > 0 and sge.bias.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def test_parameter_count():
    assert count_parameters(SpatialGroupEnhance(32)) == sge_params(32) == 64
