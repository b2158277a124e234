"""Expectation-Maximization Attention (Li, Zhong, Wu, Yang, Lin and Liu,
"Expectation-Maximization Attention Networks for Semantic Segmentation", ICCV 2019),
the attention inside Mask-CornerNet's mask module (Yang, Fan and Guo, 2020, Eqs. 6-8).

Non-local attention compares every position with every other one: O(N^2 C) for N
positions. EM attention instead explains the N feature vectors with K << N unit-length
*bases* mu, found by a few steps of an EM-like algorithm, and rebuilds every position
from those bases: O(N K C T) for T iterations.

    E step:  Z  = softmax over k of  X^T mu                  (B, N, K) responsibilities
    M step:  mu = X Z / (1e-6 + sum over n of Z),  then each base L2-normalised over C
    rebuild: X~ = mu Z^T                                     (B, C, N), a low-rank X

``EMAU`` wraps this between two 1x1 convolutions and a residual connection, as the
reference implementation does:

    idn = x;  x = conv1(x);  z, mu = EM(x, bases)  [no gradient];  x~ = ReLU(mu z^T)
    out = ReLU(BN(conv2(x~)) + idn)

Choices made here (the book quotes them):

* The EM steps run under ``torch.no_grad`` (the reference's choice: back-propagating
  through T unrolled softmax/normalise steps is unstable and costly). The rebuild uses
  the detached z and mu, so **conv1 receives no gradient**: its weights stay at their
  initial values (a fixed random projection) and only conv2, the BatchNorm and the
  residual path learn. The layer marks conv1's parameters ``requires_grad=False`` so
  that DistributedDataParallel does not wait for gradients that never come. The test
  suite checks that conv1 gets none and conv2/BN do.
* The bases buffer ``mu`` (1, C, K) starts as Gaussian noise (std sqrt(2/K)) normalised
  over C. In training mode every forward pass moves it towards the converged bases of
  the batch: mu <- momentum * mu + (1 - momentum) * mean over the batch of mu_T. Under
  ``torch.distributed`` that batch mean is all-reduced and divided by the world size
  first, so every process keeps the same buffer (the reference does the update in its
  training loop; here the layer owns it, so no training loop can forget it). As in the
  reference, the averaged buffer is not re-normalised: the M step re-normalises anyway.
* EM runs in float32 even when the layer runs in half precision or under autocast: the
  softmax of dot products and the division by column sums are where float16 loses most.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _l2_normalise(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t / (1e-6 + ||t||) along ``dim`` (the small constant keeps an all-zero base at zero)."""
    return t / (1e-6 + t.norm(dim=dim, keepdim=True))


def em_iterations(x: torch.Tensor, mu: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``iters`` E/M steps of EM attention.

    x:  (B, C, N) features, one column per position.
    mu: (1, C, K) or (B, C, K) initial bases (L2-normalised columns).
    Returns z (B, N, K), the last responsibilities (each row sums to 1), and
    mu (B, C, K), the last bases (L2-normalised columns). Differentiable as written;
    ``EMAU`` calls it under ``torch.no_grad``.
    """
    if x.dim() != 3 or mu.dim() != 3:
        raise ValueError(f"em_iterations: x must be (B, C, N) and mu (1 or B, C, K); got {tuple(x.shape)} and {tuple(mu.shape)}")
    b, c, _ = x.shape
    if mu.shape[1] != c or mu.shape[0] not in (1, b):
        raise ValueError(f"em_iterations: mu {tuple(mu.shape)} does not fit x {tuple(x.shape)} (need (1 or {b}, {c}, K))")
    if iters < 1:
        raise ValueError(f"em_iterations: iters must be >= 1, got {iters}")
    mu = mu.expand(b, -1, -1)
    for _ in range(iters):
        z = F.softmax(torch.bmm(x.transpose(1, 2), mu), dim=2)  # E step: (B, N, K)
        z_normalised = z / (1e-6 + z.sum(dim=1, keepdim=True))  # each base averages its positions
        mu = _l2_normalise(torch.bmm(x, z_normalised), dim=1)  # M step: (B, C, K)
    return z, mu


class EMAU(nn.Module):
    """Expectation-Maximization Attention Unit; (B, C, H, W) -> (B, C, H, W).

    ``bases`` K, ``iters`` T, ``momentum`` of the moving average of the bases buffer.
    """

    def __init__(self, channels: int, bases: int = 64, iters: int = 3, momentum: float = 0.9) -> None:
        super().__init__()
        if channels < 1 or bases < 1:
            raise ValueError(f"EMAU: channels and bases must be >= 1, got channels={channels}, bases={bases}")
        if iters < 1:
            raise ValueError(f"EMAU: iters must be >= 1, got {iters}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"EMAU: momentum must lie in [0, 1], got {momentum}")
        self.channels, self.num_bases, self.iters, self.momentum = channels, bases, iters, momentum
        initial = torch.randn(1, channels, bases) * math.sqrt(2.0 / bases)
        self.register_buffer("mu", _l2_normalise(initial, dim=1))
        self.conv1 = nn.Conv2d(channels, channels, 1)
        # No gradient ever reaches conv1 (see the module docstring). Saying so keeps
        # optimisers and DistributedDataParallel from waiting for one.
        self.conv1.requires_grad_(False)
        self.conv2 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The EM result for input x (B, C, H, W): z (B, H*W, K) and mu (B, C, K), float32.

        Touches no buffer; handy for looking at what each base attends to.
        """
        with torch.no_grad():
            features = self.conv1(x).flatten(2)
            # float32 even under autocast, which would otherwise run bmm in float16
            with torch.autocast(device_type=x.device.type, enabled=False):
                return em_iterations(features.float(), self.mu.float(), self.iters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"EMAU: expected {self.channels} input channels, got {c}")
        z, mu = self.attention(x)
        rebuilt = torch.bmm(mu, z.transpose(1, 2)).reshape(b, c, h, w).to(x.dtype)
        out = self.bn(self.conv2(torch.relu(rebuilt)))
        if self.training:
            self._update_bases(mu)
        return torch.relu(out + x)

    @torch.no_grad()
    def _update_bases(self, mu: torch.Tensor) -> None:
        """mu_buffer <- m * mu_buffer + (1 - m) * (mean of mu over the batch and the processes)."""
        batch_mean = mu.mean(dim=0, keepdim=True)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(batch_mean, op=dist.ReduceOp.SUM)
            batch_mean /= dist.get_world_size()
        self.mu.mul_(self.momentum).add_(batch_mean.to(self.mu.dtype), alpha=1.0 - self.momentum)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, bases={self.num_bases}, iters={self.iters}, momentum={self.momentum}"


def emau_params(channels: int) -> int:
    """Parameters of ``EMAU(channels, ...)``: conv1 C^2 + C, conv2 C^2, BN 2C (bases are a buffer)."""
    return 2 * channels * channels + 3 * channels
