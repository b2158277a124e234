"""The joined-pair rule: a box from one object's top-left corner to another's
bottom-right, found by the two smaller boxes that share its corners."""

from __future__ import annotations

import pytest
import torch

from mcn.decode import decode
from mcn.joins import joined_pairs


def _pairs(rows):
    """(boxes, scores, labels) from rows (x0, y0, x1, y1, score, label)."""
    t = torch.tensor(rows, dtype=torch.float32)
    return t[:, :4], t[:, 4], t[:, 5].long()


TWO_SIGNS = [(10, 10, 30, 30, 0.9, 0),     # sign A
             (60, 10, 80, 30, 0.8, 0),     # sign B beside it
             (10, 10, 80, 30, 0.85, 0)]    # A's top-left to B's bottom-right


def test_the_box_over_two_found_signs_is_joined_and_theirs_are_not():
    assert joined_pairs(*_pairs(TWO_SIGNS)).tolist() == [False, False, True]


def test_weak_inner_boxes_do_not_make_a_large_sign_joined():
    # a large sign with two weak boxes inside sharing its corners (pictogram edges)
    rows = [(0, 0, 100, 100, 0.9, 0), (0, 0, 40, 40, 0.3, 0), (60, 60, 100, 100, 0.3, 0)]
    assert not joined_pairs(*_pairs(rows), ratio=0.65).any()
    assert joined_pairs(*_pairs(rows), ratio=0.3).tolist() == [True, False, False]


@pytest.mark.parametrize("change, why", [
    ((1, 5, 1), "B is of another class"),
    ((1, 4, -1.0), "B's pair was rejected"),
    ((1, 0, 25), "A and B overlap"),
])
def test_the_rule_needs_both_signs_apart_of_the_class(change, why):
    rows = [list(r) for r in TWO_SIGNS]
    row, column, value = change
    rows[row][column] = value
    assert not joined_pairs(*_pairs(rows))[2], why


def test_a_pair_whose_corners_are_shared_by_nothing_stays():
    rows = [(10, 10, 30, 30, 0.9, 0), (60, 10, 80, 30, 0.8, 0), (11, 10, 80, 30, 0.85, 0)]
    assert not joined_pairs(*_pairs(rows)).any()
    with pytest.raises(ValueError, match="ratio"):
        joined_pairs(*_pairs(rows), ratio=0)


def test_decode_drops_joined_pairs_before_soft_nms():
    # Two signs of class 0 side by side; their embeddings 0 and 0.2 let A's top-left
    # pair with B's bottom-right as well (|0 - 0.2| < 0.5).
    h = w = 32
    outputs = {f"{c}_{k}": torch.zeros(1, n, h, w) for c in ("tl", "br")
               for k, n in (("heat", 2), ("emb", 1), ("off", 2))}
    for c in ("tl", "br"):
        outputs[f"{c}_heat"].fill_(-10.0)
    for (x0, y0, x1, y1), e in (((2, 2, 6, 6), 0.0), ((12, 2, 16, 6), 0.2)):
        outputs["tl_heat"][0, 0, y0, x0] = outputs["br_heat"][0, 0, y1, x1] = 3.0
        outputs["tl_emb"][0, 0, y0, x0] = outputs["br_emb"][0, 0, y1, x1] = e
    plain = decode(outputs, k=4, soft_nms_sigma=None, score_threshold=0.5)[0]
    ruled = decode(outputs, k=4, soft_nms_sigma=None, score_threshold=0.5, join_ratio=0.65)[0]
    joined = [2 * 4, 2 * 4, 16 * 4, 6 * 4]
    assert joined in plain["boxes"].tolist() and len(plain["boxes"]) == 3
    assert joined not in ruled["boxes"].tolist() and len(ruled["boxes"]) == 2
