"""MaskModule: shapes, the group-wise residual gate against a direct computation, the
background prior, gradients, parameter counts."""

import math

import pytest
import torch

from mcn.nn import MaskModule, count_parameters, mask_module_params


def test_shapes():
    module = MaskModule(16, num_classes=5, mask_channels=8, groups=4, bases=4)
    x = torch.randn(2, 16, 6, 4)
    features, logits = module(x)
    assert features.shape == x.shape
    assert logits.shape == (2, 6, 12, 8)  # C + 1 classes at twice the resolution


def test_gate_is_groupwise_one_plus_gain_times_foreground():
    torch.manual_seed(0)
    groups, channels = 4, 16
    module = MaskModule(channels, num_classes=3, mask_channels=8, groups=groups, bases=4).eval()
    with torch.no_grad():
        module.gain.copy_(torch.randn(1, groups, 1, 1))
        module.classifier.bias.zero_()  # a foreground map far from 0 makes the check sharper
    x = torch.randn(2, channels, 4, 6)
    with torch.no_grad():
        features, logits = module(x)
    probs = torch.softmax(logits, dim=1)
    expected = torch.empty_like(x)
    for n in range(2):
        for i in range(4):
            for j in range(6):
                # the 2x2 block of mask cells under feature cell (i, j)
                fg = 1 - probs[n, 0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean()
                for ch in range(channels):
                    group = ch // (channels // groups)
                    expected[n, ch, i, j] = x[n, ch, i, j] * (1 + module.gain[0, group, 0, 0] * fg)
    torch.testing.assert_close(features, expected, rtol=1e-5, atol=1e-6)


def test_starts_close_to_identity_with_background_prior():
    module = MaskModule(16, num_classes=42, mask_channels=8, groups=4, bases=4).eval()
    bias = module.classifier.bias
    assert bias[0].item() == pytest.approx(math.log(42 * 0.99 / 0.01))
    assert torch.all(bias[1:] == 0)
    x = torch.randn(1, 16, 4, 4)
    with torch.no_grad():
        features, logits = module(x)
    background = torch.softmax(logits, dim=1)[:, 0]
    assert background.mean().item() > 0.9
    assert (features - x).abs().max() <= 0.1 * x.abs().max()


def test_detection_gradient_reaches_the_segmentation_and_gain():
    module = MaskModule(8, num_classes=2, mask_channels=8, groups=2, bases=4).train()
    x = torch.randn(2, 8, 4, 4)
    features, _ = module(x)
    features.sum().backward()  # a loss on the features only, no mask loss
    assert module.classifier.weight.grad.abs().sum() > 0
    assert module.gain.grad.abs().sum() > 0
    assert module.emau.conv1.weight.grad is None  # EM attention's documented exception


def test_errors_and_params():
    with pytest.raises(ValueError, match="not divisible"):
        MaskModule(24, num_classes=3, groups=32)
    with pytest.raises(ValueError, match="num_classes"):
        MaskModule(32, num_classes=0)
    module = MaskModule(256, num_classes=42, mask_channels=64, groups=32)
    assert count_parameters(module) == mask_module_params(256, 42, 64, 32)
