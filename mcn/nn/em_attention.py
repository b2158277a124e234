"""Expectation-Maximization Attention (Li, Zhong, Wu, Yang, Lin and Liu,
"Expectation-Maximization Attention Networks for Semantic Segmentation", ICCV 2019),
the attention inside Mask-CornerNet's mask module (Yang, Fan and Guo, 2020, Eqs. 6-8).
Taught in chapter 6.

Non-local attention compares every position with every other one: O(N^2 C) for N
positions. EM attention instead explains the N feature vectors with K << N unit-length
*bases* mu, found by a few steps of an EM-like algorithm, and rebuilds every position
from those bases: O(N K C T) for T iterations.

    E step:  Z  = softmax over k of  lambda X^T mu            (B, N, K) responsibilities
    M step:  mu = X Z / (1e-6 + sum over n of Z),  then each base L2-normalised over C
    rebuild: X~ = mu Z^T                                      (B, C, N), a low-rank X

``EMAU`` wraps this between two 1x1 convolutions and a residual connection, as the
reference implementation does:

    idn = x;  X = conv1(x);  z, mu = EM(X, bases)  [no gradient];  x~ = ReLU(mu z^T)
    out = ReLU(BN(conv2(x~)) + idn)

Choices made here (the book quotes them):

* The EM steps run under ``torch.no_grad`` (the reference's choice: back-propagating
  through T unrolled softmax/normalise steps is unstable and costly). The rebuild uses
  the detached z and mu, so **conv1 receives no gradient**: its weights stay at their
  initial values (a fixed random projection) and only conv2, the BatchNorm and the
  residual path learn. conv1's parameters are marked ``requires_grad=False`` so that
  DistributedDataParallel does not wait for gradients that never come.
* Initialisation as in the reference: both convolutions drawn from N(0, sqrt(2/n)),
  n = kernel area x out channels, BatchNorm weight 1 and bias 0. Since conv1 never
  learns, its initial scale *is* the scale of X forever.
* ``lambd`` is the paper's lambda, an inverse temperature of the E step; lambda = 1 and
  ``normalise=False`` reproduce the reference code exactly. The E step only sees dot
  products of X with unit bases, so with few channels and small features every
  position gets nearly the same responsibilities (1/K each): the attention is
  *uniform* and the rebuild is one vector everywhere. ``normalise=True`` L2-normalises
  X over C first, so the E step compares directions (cosine similarity in [-1, 1]) and
  lambda alone sets how sharp the responsibilities are, whatever the scale of the
  features. ``ModelConfig`` chooses both by measurement (``mcn.models.config``).
* The bases buffer ``mu`` (1, C, K) starts as Gaussian noise (std sqrt(2/K)) normalised
  over C. In training mode every forward pass moves it towards the converged bases of
  the batch: mu <- momentum * mu + (1 - momentum) * mean over the batch of mu_T. Under
  ``torch.distributed`` that batch mean is all-reduced and divided by the world size
  first, so every process keeps the same buffer. As in the reference, the averaged
  buffer is not re-normalised: the M step re-normalises anyway.
* EM runs in float32 even when the layer runs in half precision or under autocast: the
  softmax of dot products and the division by column sums are where float16 loses most.
* The iterations keep z as (B, K, N), bases by positions: the softmax over K then runs
  along a long contiguous axis, which is many times faster on a CPU than a softmax
  over a last axis of only K = 8 entries. ``em_iterations`` still returns (B, N, K).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def l2_normalise(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t / (1e-6 + ||t||) along ``dim`` (the small constant keeps an all-zero vector at zero)."""
    return t / (1e-6 + t.norm(dim=dim, keepdim=True))


def _check_em_inputs(x: torch.Tensor, mu: torch.Tensor, iters: int) -> None:
    if x.dim() != 3 or mu.dim() != 3:
        raise ValueError(f"em_iterations: x must be (B, C, N) and mu (1 or B, C, K); got {tuple(x.shape)} and {tuple(mu.shape)}")
    b, c, _ = x.shape
    if mu.shape[1] != c or mu.shape[0] not in (1, b):
        raise ValueError(f"em_iterations: mu {tuple(mu.shape)} does not fit x {tuple(x.shape)} (need (1 or {b}, {c}, K))")
    if iters < 1:
        raise ValueError(f"em_iterations: iters must be >= 1, got {iters}")


def em_iterations(x: torch.Tensor, mu: torch.Tensor, iters: int,
                  lambd: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``iters`` E/M steps of EM attention.

    x:  (B, C, N) features, one column per position.
    mu: (1, C, K) or (B, C, K) initial bases (L2-normalised columns).
    lambd: the E step's inverse temperature (the paper's lambda; 1 in EMANet's code).
    Returns z (B, N, K), the last responsibilities (each row sums to 1), and
    mu (B, C, K), the last bases (L2-normalised columns). Differentiable as written;
    ``EMAU`` calls it under ``torch.no_grad``.
    """
    _check_em_inputs(x, mu, iters)
    mu = mu.expand(x.shape[0], -1, -1)
    for _ in range(iters):
        z = F.softmax(lambd * torch.bmm(mu.transpose(1, 2), x), dim=1)  # E step: (B, K, N)
        z_normalised = z / (1e-6 + z.sum(dim=2, keepdim=True))  # each base averages its positions
        mu = l2_normalise(torch.bmm(x, z_normalised.transpose(1, 2)), dim=1)  # M step: (B, C, K)
    return z.transpose(1, 2), mu


def attention_stats(z: torch.Tensor) -> dict[str, float]:
    """How much an EM attention attends, from responsibilities z (B, N, K).

    mean_max: mean over positions of the largest responsibility (1/K when uniform, 1
    when every position belongs to one base); entropy: mean entropy of a position's
    responsibilities in nats (log K when uniform); max_entropy: log K; bases_owning:
    mean over images of the number of bases that are the most responsible one for at
    least one position; bases: K.
    """
    if z.dim() != 3:
        raise ValueError(f"attention_stats: z must be (B, N, K), got {tuple(z.shape)}")
    z = z.float()
    k = z.shape[2]
    entropy = -(z * z.clamp_min(1e-12).log()).sum(dim=2)
    owner = z.argmax(dim=2)  # (B, N)
    owning = [float(torch.unique(owner[i]).numel()) for i in range(z.shape[0])]
    return {
        "mean_max": float(z.amax(dim=2).mean()),
        "entropy": float(entropy.mean()),
        "max_entropy": math.log(k),
        "bases_owning": sum(owning) / len(owning),
        "bases": k,
    }


def reference_init_(module: nn.Module) -> None:
    """EMANet's initialisation: convolutions N(0, sqrt(2/n)), n = kernel area x out
    channels; BatchNorm weight 1, bias 0 (convolution biases are left as they are)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            with torch.no_grad():
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class EMAU(nn.Module):
    """Expectation-Maximization Attention Unit; (B, C, H, W) -> (B, C, H, W).

    ``bases`` K, ``iters`` T, ``momentum`` of the moving average of the bases buffer,
    ``lambd`` the E step's inverse temperature, ``normalise`` whether X is L2-normalised
    over C before EM (see the module docstring).
    """

    def __init__(self, channels: int, bases: int = 64, iters: int = 3, momentum: float = 0.9,
                 lambd: float = 1.0, normalise: bool = False) -> None:
        super().__init__()
        if channels < 1 or bases < 1:
            raise ValueError(f"EMAU: channels and bases must be >= 1, got channels={channels}, bases={bases}")
        if iters < 1:
            raise ValueError(f"EMAU: iters must be >= 1, got {iters}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"EMAU: momentum must lie in [0, 1], got {momentum}")
        if not (math.isfinite(lambd) and lambd > 0):
            raise ValueError(f"EMAU: lambd must be a finite number > 0, got {lambd}")
        self.channels, self.num_bases, self.iters, self.momentum = channels, bases, iters, momentum
        self.lambd, self.normalise = float(lambd), bool(normalise)
        initial = torch.randn(1, channels, bases) * math.sqrt(2.0 / bases)
        self.register_buffer("mu", l2_normalise(initial, dim=1))
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.conv2 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        reference_init_(self)
        # No gradient ever reaches conv1 (see the module docstring). Saying so keeps
        # optimisers and DistributedDataParallel from waiting for one.
        self.conv1.requires_grad_(False)

    def em_features(self, x: torch.Tensor) -> torch.Tensor:
        """X, what EM clusters: conv1(x) as (B, C, H*W) float32, normalised if asked."""
        with torch.no_grad():
            features = self.conv1(x).flatten(2).float()
            return l2_normalise(features, dim=1) if self.normalise else features

    def attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The EM result for input x (B, C, H, W): z (B, H*W, K) and mu (B, C, K), float32.

        Touches no buffer; handy for looking at what each base attends to.
        """
        with torch.no_grad():
            # float32 even under autocast, which would otherwise run bmm in float16
            with torch.autocast(device_type=x.device.type, enabled=False):
                return em_iterations(self.em_features(x), self.mu.float(), self.iters, self.lambd)

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
        return (f"channels={self.channels}, bases={self.num_bases}, iters={self.iters}, "
                f"momentum={self.momentum}, lambd={self.lambd}, normalise={self.normalise}")


def emau_params(channels: int) -> int:
    """Parameters of ``EMAU(channels, ...)``: conv1 C^2 + C, conv2 C^2, BN 2C (bases are a buffer)."""
    return 2 * channels * channels + 3 * channels
