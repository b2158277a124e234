"""Corners: cells and offsets, the local-maximum NMS, and the pairing rules the decoder and
the views share."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mcn.corners import REJECTION_REASONS, corner_cells, local_max, pair_corners, pair_scores


# --------------------------------------------------------------------------- NMS
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_local_max_equals_max_pooling(kernel):
    x = torch.randn(2, 3, 9, 7, generator=torch.Generator().manual_seed(kernel))
    assert torch.equal(local_max(x, kernel), F.max_pool2d(x, kernel, 1, kernel // 2))


# --------------------------------------------------------------------------- encoding
def test_corner_cells_floor_the_top_left_and_ceil_the_bottom_right():
    # A box over pixel columns 10..19 and rows 8..15 at stride 4: TL cell (2, 2) offset
    # (0.5, 0), BR cell ceil(20 / 4) - 1 = 4 and ceil(16 / 4) - 1 = 3, offset (1, 1).
    tl_cell, tl_off, br_cell, br_off = corner_cells(torch.tensor([[10.0, 8.0, 20.0, 16.0]]), 4)
    assert tl_cell.tolist() == [[2, 2]] and tl_off.tolist() == [[0.5, 0.0]]
    assert br_cell.tolist() == [[4, 3]] and br_off.tolist() == [[1.0, 1.0]]
    # Decoding is (cell + offset) * stride for both corners: the round trip is exact.
    assert ((tl_cell + tl_off) * 4).tolist() == [[10.0, 8.0]]
    assert ((br_cell + br_off) * 4).tolist() == [[20.0, 16.0]]


# --------------------------------------------------------------------------- pairing
def corners(scores, labels, emb, xs, ys):
    """A ``top_corners``-style dict of one image from plain lists (K corners)."""
    return {"scores": torch.tensor([scores]), "labels": torch.tensor([labels]),
            "emb": torch.tensor([emb]), "xs": torch.tensor([xs]), "ys": torch.tensor([ys])}


def test_pair_scores_give_the_mean_score_and_the_first_rule_broken():
    tl = corners([0.8, 0.6], [0, 1], [1.0, 1.0], [10.0, 10.0], [10.0, 10.0])
    # BR 0 fits TL 0; BR 1 has TL 0's class but a distant embedding; BR 2 has TL 1's
    # class and embedding but lies above-left of it, and BR 3 differs in every way.
    br = corners([0.4, 0.2, 0.6, 0.9], [0, 0, 1, 2], [1.2, 3.0, 1.0, 9.0],
                 [30.0, 30.0, 5.0, 5.0], [30.0, 30.0, 5.0, 5.0])
    scores, reasons = pair_scores(tl, br, ae_threshold=0.5)
    assert scores.shape == reasons.shape == (1, 2, 4)
    torch.testing.assert_close(scores[0, 0], torch.tensor([0.6, 0.5, 0.7, 0.85]))
    assert REJECTION_REASONS[0] == "kept"
    assert reasons[0].tolist() == [[0, 2, 1, 1],   # TL 0: kept, embedding, class, class
                                   [1, 1, 3, 1]]   # TL 1: class, class, geometry, class


def test_pair_corners_keeps_exactly_the_pairs_pair_scores_accepts():
    gen = torch.Generator().manual_seed(3)
    k = 12
    tl = {"scores": torch.rand(2, k, generator=gen), "labels": torch.randint(0, 2, (2, k), generator=gen),
          "emb": torch.rand(2, k, generator=gen), "xs": torch.rand(2, k, generator=gen) * 50,
          "ys": torch.rand(2, k, generator=gen) * 50}
    br = {name: value.roll(1, dims=1) for name, value in tl.items()}
    br["xs"], br["ys"] = br["xs"] + 20, br["ys"] + 20  # most pairs face the right way
    scores, reasons = pair_scores(tl, br, 0.3)
    _, best, _ = pair_corners(tl, br, 0.3, num_dets=k * k)
    for image in range(2):
        kept = scores[image][reasons[image] == 0].sort(descending=True).values
        assert torch.equal(best[image][best[image] >= 0], kept)
