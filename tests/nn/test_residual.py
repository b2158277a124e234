"""The residual block against a direct computation, and its parameter count."""

import torch
import torch.nn.functional as F

from mcn.nn import Residual, count_parameters, residual_params
from tests.nn.batchnorm import bn_eval, randomise_batchnorm


def test_residual_matches_direct_computation():
    torch.manual_seed(1)
    for cin, cout, stride in [(8, 8, 1), (8, 16, 2)]:
        block = Residual(cin, cout, stride).eval()
        randomise_batchnorm(block, seed=stride)
        x = torch.randn(2, cin, 6, 6)
        with torch.no_grad():
            y = torch.relu(bn_eval(F.conv2d(x, block.conv1[0].weight, stride=stride, padding=1), block.conv1[1]))
            y = bn_eval(F.conv2d(y, block.conv2[0].weight, padding=1), block.conv2[1])
            if stride == 1 and cin == cout:
                shortcut = x
            else:
                shortcut = bn_eval(F.conv2d(x, block.shortcut[0].weight, stride=stride), block.shortcut[1])
            torch.testing.assert_close(block(x), torch.relu(y + shortcut), rtol=1e-5, atol=1e-5)


def test_residual_parameter_count_matches_the_formula():
    for cin, cout, stride in [(128, 256, 2), (256, 256, 1), (64, 64, 2)]:
        assert count_parameters(Residual(cin, cout, stride)) == residual_params(cin, cout, stride)
