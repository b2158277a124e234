"""EM attention: em_iterations against a loop, EMAU's buffer and gradients, and the
buffer kept identical across processes under torch.distributed (EMANet, Li et al. 2019)."""

import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mcn.nn import EMAU, attention_stats, count_parameters, em_iterations, emau_params


def loop_em(x, mu, iters):
    """One image, one position, one base at a time, in float64 Python arithmetic."""
    b, c, n = x.shape
    k = mu.shape[2]
    mus = [[[float(mu[min(i, mu.shape[0] - 1), ch, kk]) for kk in range(k)] for ch in range(c)] for i in range(b)]
    zs = []
    for i in range(b):
        m = mus[i]
        for _ in range(iters):
            z = []
            for p in range(n):
                logits = [sum(float(x[i, ch, p]) * m[ch][kk] for ch in range(c)) for kk in range(k)]
                top = max(logits)
                e = [math.exp(v - top) for v in logits]
                z.append([v / sum(e) for v in e])
            col = [1e-6 + sum(z[p][kk] for p in range(n)) for kk in range(k)]
            m = [[sum(float(x[i, ch, p]) * z[p][kk] / col[kk] for p in range(n)) for kk in range(k)] for ch in range(c)]
            norms = [math.sqrt(sum(m[ch][kk] ** 2 for ch in range(c))) for kk in range(k)]
            m = [[m[ch][kk] / (1e-6 + norms[kk]) for kk in range(k)] for ch in range(c)]
        zs.append(z)
        mus[i] = m
    return torch.tensor(zs, dtype=torch.float64), torch.tensor(mus, dtype=torch.float64)


@pytest.mark.parametrize("shared_bases", [True, False])
def test_em_iterations_match_loop(shared_bases):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, generator=gen, dtype=torch.float64)
    mu = torch.randn(1 if shared_bases else 2, 3, 4, generator=gen, dtype=torch.float64)
    mu = mu / mu.norm(dim=1, keepdim=True)
    z, mu_out = em_iterations(x, mu, iters=3)
    z_ref, mu_ref = loop_em(x, mu, 3)
    assert z.shape == (2, 7, 4) and mu_out.shape == (2, 3, 4)
    torch.testing.assert_close(z, z_ref)
    torch.testing.assert_close(mu_out, mu_ref)
    torch.testing.assert_close(z.sum(dim=2), torch.ones(2, 7, dtype=torch.float64))
    torch.testing.assert_close(mu_out.norm(dim=1), torch.ones(2, 4, dtype=torch.float64), atol=1e-5, rtol=0)


def test_em_iterations_errors():
    with pytest.raises(ValueError, match="iters"):
        em_iterations(torch.randn(1, 3, 5), torch.randn(1, 3, 2), 0)
    with pytest.raises(ValueError, match="does not fit"):
        em_iterations(torch.randn(2, 3, 5), torch.randn(3, 3, 2), 1)
    with pytest.raises(ValueError, match=r"\(B, C, N\)"):
        em_iterations(torch.randn(2, 3, 5, 5), torch.randn(1, 3, 2), 1)


def test_emau_bases_initialised_unit_length():
    emau = EMAU(16, bases=8)
    assert emau.mu.shape == (1, 16, 8)
    assert "mu" in dict(emau.named_buffers()) and "mu" not in dict(emau.named_parameters())
    torch.testing.assert_close(emau.mu.norm(dim=1), torch.ones(1, 8), atol=1e-5, rtol=0)


def test_emau_buffer_moves_in_training_by_the_moving_average():
    torch.manual_seed(0)
    emau = EMAU(8, bases=4, iters=2, momentum=0.9).train()
    x = torch.randn(3, 8, 5, 5)
    before = emau.mu.clone()
    with torch.no_grad():
        _, mu_t = em_iterations(emau.conv1(x).flatten(2), before, 2)
    y = emau(x)
    assert y.shape == x.shape
    expected = 0.9 * before + 0.1 * mu_t.mean(dim=0, keepdim=True)
    torch.testing.assert_close(emau.mu, expected)
    assert not torch.allclose(emau.mu, before)


def test_emau_buffer_still_in_eval():
    emau = EMAU(8, bases=4).eval()
    before = emau.mu.clone()
    emau(torch.randn(2, 8, 4, 4))
    assert torch.equal(emau.mu, before)


def test_emau_forward_matches_direct_computation():
    torch.manual_seed(1)
    emau = EMAU(6, bases=3, iters=3).eval()
    x = torch.randn(2, 6, 4, 3)
    with torch.no_grad():
        features = emau.conv1(x).flatten(2)
        z, mu = loop_em(features.double(), emau.mu.double(), 3)
        rebuilt = torch.relu(mu @ z.transpose(1, 2)).float().reshape(2, 6, 4, 3)
        expected = torch.relu(emau.bn(emau.conv2(rebuilt)) + x)
        torch.testing.assert_close(emau(x), expected, rtol=1e-4, atol=1e-5)


def test_emau_gradient_reaches_conv2_and_bn_not_conv1():
    emau = EMAU(8, bases=4).train()
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    emau(x).square().sum().backward()
    assert emau.conv2.weight.grad is not None and emau.conv2.weight.grad.abs().sum() > 0
    assert emau.bn.weight.grad.abs().sum() > 0 and emau.bn.bias.grad.abs().sum() > 0
    assert emau.conv1.weight.grad is None and emau.conv1.bias.grad is None  # documented
    assert x.grad.abs().sum() > 0  # through the residual path


def test_emau_half_precision_input_gives_same_dtype():
    emau = EMAU(8, bases=4).eval().to(torch.bfloat16)
    y = emau(torch.randn(1, 8, 4, 4, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()


def test_emau_errors_and_params():
    with pytest.raises(ValueError, match="iters"):
        EMAU(8, iters=0)
    with pytest.raises(ValueError, match="momentum"):
        EMAU(8, momentum=1.5)
    with pytest.raises(ValueError, match="channels"):
        EMAU(8)(torch.randn(1, 4, 2, 2))
    assert count_parameters(EMAU(24, bases=16)) == emau_params(24)


def _distributed_worker(rank, world_size, port, result_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        torch.manual_seed(0)  # same initial weights and bases on both ranks
        emau = EMAU(4, bases=3, iters=2, momentum=0.5).train()
        x = torch.randn(world_size, 2, 4, 3, 3, generator=torch.Generator().manual_seed(7))
        before = emau.mu.clone()
        with torch.no_grad():
            per_rank = [em_iterations(emau.conv1(x[r]).flatten(2), before, 2)[1].mean(0, keepdim=True)
                        for r in range(world_size)]
        emau(x[rank])  # each rank sees a different half of the data
        expected = 0.5 * before + 0.5 * torch.stack(per_rank).mean(0)
        torch.save({"mu": emau.mu, "expected": expected}, os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_emau_buffer_identical_across_processes(tmp_path):
    from socket import socket

    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_distributed_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert torch.equal(r0["mu"], r1["mu"])
    torch.testing.assert_close(r0["mu"], r0["expected"])


def test_emau_em_runs_in_float32_under_autocast():
    emau = EMAU(8, bases=4).eval()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        z, mu = emau.attention(torch.randn(1, 8, 4, 4))
        y = emau(torch.randn(1, 8, 4, 4))
    assert z.dtype == torch.float32 and mu.dtype == torch.float32
    assert torch.isfinite(y.float()).all()


# --------------------------------------------------------------------- init, lambda, stats

def test_emau_reference_initialisation():
    torch.manual_seed(0)
    emau = EMAU(64, bases=8)
    expected_std = math.sqrt(2.0 / 64)  # 1x1 kernels: n = out channels
    for conv in (emau.conv1, emau.conv2):
        assert abs(conv.weight.std().item() - expected_std) < 0.1 * expected_std
    assert torch.equal(emau.bn.weight, torch.ones(64)) and torch.equal(emau.bn.bias, torch.zeros(64))
    assert not emau.conv1.weight.requires_grad


def test_lambda_one_is_the_reference_and_larger_lambda_sharpens():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 30, generator=gen, dtype=torch.float64)
    mu = torch.randn(1, 4, 5, generator=gen, dtype=torch.float64)
    mu = mu / mu.norm(dim=1, keepdim=True)
    z1, mu1 = em_iterations(x, mu, 3, lambd=1.0)
    z_ref, mu_ref = loop_em(x, mu, 3)
    torch.testing.assert_close(z1, z_ref)
    torch.testing.assert_close(mu1, mu_ref)
    # lambda scales the E step's logits: lambda = 4 on x equals lambda = 1 on 4 x for
    # the first E step, so the responsibilities are sharper.
    z4, _ = em_iterations(x, mu, 1, lambd=4.0)
    z_scaled, _ = em_iterations(4.0 * x, mu, 1)
    torch.testing.assert_close(z4, z_scaled)
    assert z4.amax(dim=2).mean() > em_iterations(x, mu, 1)[0].amax(dim=2).mean()


def test_emau_normalise_makes_attention_scale_free():
    torch.manual_seed(0)
    emau = EMAU(8, bases=4, lambd=10.0, normalise=True).eval()
    x = torch.randn(2, 8, 6, 6)
    small = emau.em_features(x)
    assert torch.allclose(small.norm(dim=1), torch.ones(2, 36), atol=1e-4)
    z_a, _ = emau.attention(x)
    with torch.no_grad():
        emau.conv1.weight.mul_(100.0)
        emau.conv1.bias.mul_(100.0)
    z_b, _ = emau.attention(x)  # conv1 100x larger: the same directions, the same z
    torch.testing.assert_close(z_a, z_b, atol=1e-4, rtol=1e-3)


def test_emau_rejects_bad_lambda():
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lambd"):
            EMAU(8, lambd=bad)


def test_attention_stats_uniform_and_one_hot():
    uniform = torch.full((2, 10, 4), 0.25)
    stats = attention_stats(uniform)
    assert stats["mean_max"] == pytest.approx(0.25)
    assert stats["entropy"] == pytest.approx(math.log(4)) and stats["max_entropy"] == pytest.approx(math.log(4))
    assert stats["bases_owning"] == 1.0 and stats["bases"] == 4  # argmax ties go to base 0
    one_hot = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2, 2, 1], [3, 3, 3, 3, 3]]), 4).float()
    stats = attention_stats(one_hot)
    assert stats["mean_max"] == pytest.approx(1.0) and stats["entropy"] == pytest.approx(0.0, abs=1e-6)
    assert stats["bases_owning"] == pytest.approx((3 + 1) / 2)
    with pytest.raises(ValueError, match="attention_stats"):
        attention_stats(torch.rand(3, 4))


def test_emau_recovers_planted_clusters():
    """Positions drawn around K well-separated directions: EM finds one base each."""
    gen = torch.Generator().manual_seed(0)
    k, c, per = 4, 16, 50
    centres = torch.linalg.qr(torch.randn(c, c, generator=gen))[0][:, :k] * 3.0  # orthogonal
    members = torch.arange(k).repeat_interleave(per)
    x = centres[:, members] + 0.3 * torch.randn(c, k * per, generator=gen)
    emau = EMAU(c, bases=k, iters=10, lambd=8.0, normalise=True).eval()
    with torch.no_grad():  # conv1 as the identity: EM clusters the planted features
        emau.conv1.weight.copy_(torch.eye(c)[:, :, None, None])
        emau.conv1.bias.zero_()
        # start each base from one member of its cluster, as k-means++ would
        emau.mu.copy_(torch.nn.functional.normalize(x[:, ::per][None], dim=1))
    z, _ = emau.attention(x.reshape(1, c, k * per, 1))
    z = z[0]
    assert z.amax(dim=1).min() >= 0.9  # every member belongs to one base
    owner = z.argmax(dim=1)
    for cluster in range(k):  # and each cluster to its own base
        assert owner[members == cluster].unique().numel() == 1
    assert owner.unique().numel() == k
    assert attention_stats(z[None])["bases_owning"] == k
