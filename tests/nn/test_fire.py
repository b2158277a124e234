"""Fire module and SGE-fire: a direct computation, the skip rule, shapes, errors and the
parameter count against the analytic formula."""

import pytest
import torch
import torch.nn.functional as F

from mcn.nn import Fire, count_parameters, fire_params
from tests.nn.batchnorm import bn_eval, randomise_batchnorm


def direct_fire(fire, x, stride):
    """The fire module of CornerNet-Squeeze, written with functional convolutions."""
    half = fire.squeeze.out_channels
    s = bn_eval(F.conv2d(x, fire.squeeze.weight), fire.squeeze_bn)  # no ReLU here
    e1 = F.conv2d(s, fire.expand_1x1.weight, stride=stride)
    e3 = F.conv2d(s, fire.expand_3x3.weight, stride=stride, padding=1, groups=half)
    y = bn_eval(torch.cat([e1, e3], 1), fire.expand_bn)
    if fire.sge is not None:
        y = fire.sge(y)
    skip = stride == 1 and x.shape[1] == y.shape[1]
    return torch.relu(y + x) if skip else torch.relu(y)


@pytest.mark.parametrize(
    "cin,cout,stride,sge", [(16, 16, 1, None), (16, 24, 1, None), (16, 16, 2, None), (16, 16, 1, 4), (8, 16, 2, 2)]
)
def test_fire_matches_direct_computation(cin, cout, stride, sge):
    torch.manual_seed(0)
    fire = Fire(cin, cout, stride=stride, sge_groups=sge).eval()
    randomise_batchnorm(fire)
    if sge:
        with torch.no_grad():
            fire.sge.weight.normal_()
    x = torch.randn(2, cin, 8, 6)
    with torch.no_grad():
        y = fire(x)
        expected = direct_fire(fire, x, stride)
    assert y.shape == (2, cout, 8 // stride, 6 // stride)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)


def test_fire_skip_rule():
    assert Fire(16, 16).skip
    assert not Fire(16, 16, stride=2).skip
    assert not Fire(16, 32).skip


def test_fire_layer_shapes_follow_the_reference():
    fire = Fire(24, 32, stride=2)
    assert fire.squeeze.weight.shape == (16, 24, 1, 1) and fire.squeeze.bias is None
    assert fire.expand_1x1.weight.shape == (16, 16, 1, 1) and fire.expand_1x1.stride == (2, 2)
    assert fire.expand_3x3.weight.shape == (16, 1, 3, 3) and fire.expand_3x3.groups == 16
    assert fire.expand_3x3.stride == (2, 2) and fire.expand_bn.num_features == 32


def test_sge_fire_places_sge_before_the_skip():
    fire = Fire(8, 8, sge_groups=2).eval()
    assert fire.sge is not None and fire.sge.groups == 2
    # SGE at init multiplies by sigmoid(1): the skip input must *not* be scaled.
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        plain = Fire(8, 8).eval()
        plain.load_state_dict({k: v for k, v in fire.state_dict().items() if not k.startswith("sge.")})
        bn_out = plain.expand_bn(torch.cat([plain.expand_1x1(plain.squeeze_bn(plain.squeeze(x))),
                                            plain.expand_3x3(plain.squeeze_bn(plain.squeeze(x)))], 1))
        expected = torch.relu(bn_out * torch.sigmoid(torch.tensor(1.0)) + x)
        torch.testing.assert_close(fire(x), expected)


def test_sge_fire_errors():
    with pytest.raises(ValueError, match="not divisible"):
        Fire(48, 48, sge_groups=32)
    with pytest.raises(ValueError, match="even"):
        Fire(8, 7)
    with pytest.raises(ValueError, match="stride"):
        Fire(8, 8, stride=3)


def test_parameter_counts_match_formulas():
    for cin, cout, sge in [(256, 256, None), (256, 384, None), (384, 256, 32), (16, 32, 8)]:
        assert count_parameters(Fire(cin, cout, sge_groups=sge)) == fire_params(cin, cout, sge)
        assert count_parameters(Fire(cin, cout, stride=2, sge_groups=sge)) == fire_params(cin, cout, sge)
    # worked by hand for the book: Fire(256, 256) = 256*128 + 2*128 + 128*128 + 9*128 + 2*256
    assert fire_params(256, 256) == 32768 + 256 + 16384 + 1152 + 512 == 51072
