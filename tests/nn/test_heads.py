"""CornerHead and CornerHeads: the heatmap bias, a direct computation, shapes, parameter
counts."""

import torch
import torch.nn.functional as F

from mcn.nn import (
    HEATMAP_BIAS,
    CornerHead,
    CornerHeads,
    corner_head_params,
    corner_heads_params,
    count_parameters,
)


def test_heads():
    head = CornerHead(8, 6, 5, bias_init=HEATMAP_BIAS)
    assert torch.all(head.out.bias == -2.19)
    assert count_parameters(head) == corner_head_params(8, 6, 5) == 8 * 6 + 6 + 6 * 5 + 5
    x = torch.randn(2, 8, 3, 3)
    expected = F.conv2d(torch.relu(F.conv2d(x, head.hidden.weight, head.hidden.bias)), head.out.weight, head.out.bias)
    torch.testing.assert_close(head(x), expected)
    heads = CornerHeads(8, 6, num_classes=4)
    heat, emb, off = heads(x)
    assert heat.shape == (2, 4, 3, 3) and emb.shape == (2, 1, 3, 3) and off.shape == (2, 2, 3, 3)
    assert count_parameters(heads) == corner_heads_params(8, 6, 4)
