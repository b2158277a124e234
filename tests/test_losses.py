"""The five losses against direct loop implementations, plus edge cases and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from mcn.losses import (
    LossWeights,
    ae_loss,
    detection_loss,
    focal_loss,
    gather_at,
    mask_loss,
    offset_loss,
)
from mcn.targets import build_targets


# --------------------------------------------------------------------------- focal
def focal_by_loop(logits, target):
    pos, neg, num_pos = 0.0, 0.0, 0
    for z, g in zip(logits.flatten().tolist(), target.flatten().tolist()):
        p = min(max(1 / (1 + math.exp(-z)), 1e-4), 1 - 1e-4)
        if g == 1:
            pos += math.log(p) * (1 - p) ** 2
            num_pos += 1
        else:
            neg += math.log(1 - p) * p ** 2 * (1 - g) ** 4
    return -neg if num_pos == 0 else -(pos + neg) / num_pos


def random_heatmaps(seed, shape=(2, 3, 6, 7)):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=gen, dtype=torch.float64) * 3
    target = torch.rand(shape, generator=gen, dtype=torch.float64) * 0.9
    target[torch.rand(shape, generator=gen) < 0.05] = 1.0
    return logits, target


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_focal_matches_the_loop(seed):
    logits, target = random_heatmaps(seed)
    assert (target == 1).any()
    assert focal_loss(logits, target).item() == pytest.approx(focal_by_loop(logits, target),
                                                              rel=1e-5)


def test_focal_without_positives_is_the_negative_part():
    logits, target = random_heatmaps(4)
    target = target.clamp(max=0.9)
    expected = focal_by_loop(logits, target)
    assert focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)
    assert expected > 0


def test_focal_is_small_for_a_confident_correct_prediction():
    target = torch.zeros(1, 1, 5, 5)
    target[0, 0, 2, 2] = 1
    good = torch.full((1, 1, 5, 5), -12.0)
    good[0, 0, 2, 2] = 12.0
    assert focal_loss(good, target) < 1e-3 < focal_loss(-good, target)


def test_focal_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        focal_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))


# --------------------------------------------------------------------------- pull / push
def ae_by_loop(tl, br, valid):
    pull, push = 0.0, 0.0
    for b in range(tl.shape[0]):
        ks = [k for k in range(tl.shape[1]) if valid[b, k]]
        n = len(ks)
        if n == 0:
            continue
        e = {k: (tl[b, k].item() + br[b, k].item()) / 2 for k in ks}
        pull += sum((tl[b, k].item() - e[k]) ** 2 + (br[b, k].item() - e[k]) ** 2
                    for k in ks) / n
        if n > 1:
            push += sum(max(0.0, 1 - abs(e[j] - e[k])) for j in ks for k in ks if j != k) \
                / (n * (n - 1))
    return pull, push


def test_pull_push_match_the_loop():
    gen = torch.Generator().manual_seed(0)
    tl = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    br = tl + 0.3 * torch.randn(4, 6, generator=gen, dtype=torch.float64)
    valid = torch.tensor([[1, 1, 1, 0, 0, 0],   # 3 objects
                          [0, 0, 0, 0, 0, 0],   # none
                          [1, 0, 0, 0, 0, 0],   # one
                          [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    pull, push = ae_loss(tl, br, valid)
    ref_pull, ref_push = ae_by_loop(tl, br, valid)
    assert pull.item() == pytest.approx(ref_pull, rel=1e-6)
    assert push.item() == pytest.approx(ref_push, rel=1e-6)
    assert ref_push > 0 and ref_pull > 0


def test_pull_push_worked_by_hand():
    # Two objects: means 0 and 0.5 -> each ordered pair contributes relu(1 - 0.5) = 0.5,
    # push = (0.5 + 0.5) / (2 * 1) = 0.5. Pull: object 1 has tl = br (0); object 2 has
    # tl = 0.3, br = 0.7: (0.2^2 + 0.2^2) = 0.08, divided by N = 2 -> 0.04.
    tl = torch.tensor([[0.0, 0.3]])
    br = torch.tensor([[0.0, 0.7]])
    pull, push = ae_loss(tl, br, torch.tensor([[True, True]]))
    assert pull.item() == pytest.approx(0.04)
    assert push.item() == pytest.approx(0.5)
    # Means 2 apart: nothing to push.
    _, push = ae_loss(torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 2.0]]),
                      torch.tensor([[True, True]]))
    assert push.item() == 0.0


def test_single_object_has_no_push_and_empty_is_zero_but_in_the_graph():
    tl = torch.tensor([[0.2, 5.0]], requires_grad=True)
    br = torch.tensor([[0.6, -5.0]], requires_grad=True)
    pull, push = ae_loss(tl, br, torch.tensor([[True, False]]))
    assert push.item() == 0.0
    assert pull.item() == pytest.approx(0.08)  # (0.2^2 + 0.2^2) / 1
    pull, push = ae_loss(tl, br, torch.tensor([[False, False]]))
    assert pull.item() == 0.0 and push.item() == 0.0
    (pull + push).backward()
    assert tl.grad is not None and torch.equal(tl.grad, torch.zeros_like(tl))


# --------------------------------------------------------------------------- offsets, gather
def test_offset_loss_matches_the_loop():
    gen = torch.Generator().manual_seed(1)
    pred = torch.randn(2, 4, 2, generator=gen, dtype=torch.float64) * 2
    target = torch.rand(2, 4, 2, generator=gen, dtype=torch.float64)
    valid = torch.tensor([[True, True, False, False], [True, False, False, False]])
    total, n = 0.0, 0
    for b in range(2):
        for m in range(4):
            if valid[b, m]:
                n += 1
                for d in range(2):
                    diff = abs(pred[b, m, d].item() - target[b, m, d].item())
                    total += 0.5 * diff ** 2 if diff < 1 else diff - 0.5
    assert offset_loss(pred, target, valid).item() == pytest.approx(total / n, rel=1e-6)
    assert offset_loss(pred, target, torch.zeros(2, 4, dtype=torch.bool)).item() == 0.0


def test_gather_at_reads_the_indexed_cells():
    gen = torch.Generator().manual_seed(2)
    maps = torch.randn(2, 3, 5, 4, generator=gen)
    index = torch.randint(0, 20, (2, 6), generator=gen)
    picked = gather_at(maps, index)
    assert picked.shape == (2, 6, 3)
    for b in range(2):
        for m in range(6):
            y, x = divmod(index[b, m].item(), 4)
            assert torch.equal(picked[b, m], maps[b, :, y, x])


def test_mask_loss_is_pixel_mean_cross_entropy():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 3, 5, generator=gen, dtype=torch.float64)
    target = torch.randint(0, 4, (2, 3, 5), generator=gen)
    total = 0.0
    for b in range(2):
        for i in range(3):
            for j in range(5):
                z = logits[b, :, i, j].tolist()
                total += math.log(sum(math.exp(v) for v in z)) - z[target[b, i, j]]
    assert mask_loss(logits, target).item() == pytest.approx(total / 30, rel=1e-6)
    with pytest.raises(ValueError, match="mask_loss"):
        mask_loss(logits, target[:, :2])


# --------------------------------------------------------------------------- total
NUM_CLASSES, SIZE = 3, 32


def fake_stack(seed, batch=2, with_mask=True):
    gen = torch.Generator().manual_seed(seed)
    h = w = SIZE // 4

    def leaf(*shape):
        return torch.randn(*shape, generator=gen).requires_grad_()

    out = {"tl_heat": leaf(batch, NUM_CLASSES, h, w), "br_heat": leaf(batch, NUM_CLASSES, h, w),
           "tl_emb": leaf(batch, 1, h, w), "br_emb": leaf(batch, 1, h, w),
           "tl_off": leaf(batch, 2, h, w), "br_off": leaf(batch, 2, h, w)}
    if with_mask:
        out["mask"] = leaf(batch, NUM_CLASSES + 1, SIZE // 2, SIZE // 2)
    return out


def some_targets():
    boxes = [torch.tensor([[2.0, 3.0, 14.0, 12.0], [10.0, 10.0, 30.0, 31.0],
                           [20.0, 1.0, 26.0, 9.0]]),
             torch.tensor([[0.0, 0.0, 9.0, 9.0]])]
    labels = [torch.tensor([0, 2, 1]), torch.tensor([2])]
    return build_targets([{"boxes": b, "labels": l} for b, l in zip(boxes, labels)],
                         NUM_CLASSES, (SIZE, SIZE))


def one_stack_by_hand(stack, t):
    det = focal_loss(stack["tl_heat"], t["tl_heat"]) + focal_loss(stack["br_heat"], t["br_heat"])
    tl_emb = torch.stack([stack["tl_emb"][b, 0].flatten()[t["tl_idx"][b]] for b in range(2)])
    br_emb = torch.stack([stack["br_emb"][b, 0].flatten()[t["br_idx"][b]] for b in range(2)])
    pull, push = ae_by_loop(tl_emb, br_emb, t["valid"])
    off = 0.0
    for corner in ("tl", "br"):
        pred = torch.stack([stack[f"{corner}_off"][b].flatten(1)[:, t[f"{corner}_idx"][b]].T
                            for b in range(2)])
        off += offset_loss(pred, t[f"{corner}_off"], t["valid"]).item()
    mask = torch.nn.functional.cross_entropy(stack["mask"], t["mask"]).item()
    return {"det": det.item(), "pull": pull, "push": push, "off": off, "mask": mask}


def test_detection_loss_averages_the_stacks_and_weights_the_terms():
    t = some_targets()
    stacks = [fake_stack(10), fake_stack(11)]
    weights = LossWeights(det=1.0, pull=0.1, push=0.1, off=1.0, mask=1.0)
    losses = detection_loss(stacks, t, weights)
    assert set(losses) == {"det", "pull", "push", "off", "mask", "total"}
    per_stack = [one_stack_by_hand(s, t) for s in stacks]
    for name in ("det", "pull", "push", "off", "mask"):
        expected = (per_stack[0][name] + per_stack[1][name]) / 2
        assert losses[name].item() == pytest.approx(expected, rel=1e-5), name
    total = (losses["det"] + 0.1 * losses["pull"] + 0.1 * losses["push"] + losses["off"]
             + losses["mask"])
    assert losses["total"].item() == pytest.approx(total.item(), rel=1e-6)
    other = detection_loss(stacks, t, LossWeights(pull=1.0, mask=0.0))
    assert other["total"].item() == pytest.approx(
        (losses["det"] + losses["pull"] + 0.1 * losses["push"] + losses["off"]).item(), rel=1e-6)
    losses["total"].backward()
    for stack in stacks:
        for name, leaf in stack.items():
            assert leaf.grad is not None and torch.isfinite(leaf.grad).all(), name
            assert leaf.grad.abs().sum() > 0, name


def test_mask_is_zero_without_a_mask_head_and_a_dict_counts_as_one_stack():
    t = some_targets()
    stack = fake_stack(12, with_mask=False)
    losses = detection_loss(stack, t)
    assert losses["mask"].item() == 0.0
    by_hand = detection_loss([stack], t)
    assert losses["total"].item() == by_hand["total"].item()


def test_empty_ground_truth_is_finite_and_differentiable():
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    t = build_targets([empty, empty], NUM_CLASSES, (SIZE, SIZE))
    stacks = [fake_stack(13), fake_stack(14)]
    losses = detection_loss(stacks, t)
    assert losses["det"].item() > 0
    for name in ("pull", "push", "off"):
        assert losses[name].item() == 0.0, name
        assert losses[name].requires_grad, name
    assert torch.isfinite(losses["mask"]) and losses["mask"].item() > 0
    losses["total"].backward()
    for stack in stacks:
        for name, leaf in stack.items():
            assert leaf.grad is not None and torch.isfinite(leaf.grad).all(), name


def test_single_object_has_zero_push():
    t = build_targets([{"boxes": torch.tensor([[4.0, 4.0, 20.0, 24.0]]),
                        "labels": torch.tensor([1])}], NUM_CLASSES, (SIZE, SIZE))
    losses = detection_loss([fake_stack(15, batch=1)], t)
    assert losses["push"].item() == 0.0 and losses["pull"].item() > 0


def test_detection_loss_names_missing_targets():
    with pytest.raises(ValueError, match="build_targets"):
        detection_loss([fake_stack(16)], {"tl_heat": torch.zeros(1)})
