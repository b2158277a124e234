"""Helpers of the layer tests: BatchNorm layers with non-trivial statistics, and eval-mode
BatchNorm written out."""

import torch


def randomise_batchnorm(module, seed=0):
    """Give every BatchNorm non-trivial statistics and affine parameters (eval mode uses them)."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, generator=gen))
                m.bias.copy_(torch.randn(n, generator=gen))


def bn_eval(x, bn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (x - bn.running_mean[:, None, None]) * scale[:, None, None] + bn.bias[:, None, None]
