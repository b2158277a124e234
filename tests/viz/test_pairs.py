"""The pairing view: every candidate pair once, with the decoder's reason, and the
soft-NMS survivors are decode's detections."""

from __future__ import annotations

import itertools

from matplotlib.figure import Figure
import numpy as np
import torch

from mcn import viz as W
from mcn.corners import pair_corners, top_corners
from mcn.decode import decode
from tests.viz.views import CLASSES, STRIDE, random_outputs


# --------------------------------------------------------------------------- decoding
def test_pairs_partition_the_candidates_and_follow_the_rules():
    outputs = random_outputs(seed=4)
    k, ae, thr = 10, 0.5, 0.55
    pairs = W.pair_candidates(outputs, k, ae, thr, STRIDE)
    tl, br = ({n: v[0] for n, v in top_corners(outputs[f"{c}_heat"], outputs[f"{c}_emb"],
                                                outputs[f"{c}_off"], k).items()}
              for c in ("tl", "br"))
    expected = {}
    for i, j in itertools.product(range(k), range(k)):
        score = (float(tl["scores"][i]) + float(br["scores"][j])) / 2
        if score < thr:
            continue
        if tl["labels"][i] != br["labels"][j]:
            reason = 1
        elif abs(float(tl["emb"][i]) - float(br["emb"][j])) > ae:
            reason = 2
        elif br["xs"][j] <= tl["xs"][i] or br["ys"][j] <= tl["ys"][i]:
            reason = 3
        else:
            reason = 0
        expected[(i, j)] = reason
    got = dict(zip(zip(pairs["tl"].tolist(), pairs["br"].tolist()), pairs["reasons"].tolist()))
    assert got == expected                        # every candidate once, with its reason
    assert len(set(expected.values())) >= 3       # the example exercises several reasons
    assert np.all(np.diff(pairs["scores"]) <= 0)  # best first
    kept = pairs["reasons"] == 0
    for i, j in zip(pairs["tl"][kept], pairs["br"][kept]):
        assert tl["labels"][i] == br["labels"][j]
        assert abs(float(tl["emb"][i] - br["emb"][j])) <= ae
        assert br["xs"][j] > tl["xs"][i] and br["ys"][j] > tl["ys"][i]
    # The kept pairs are exactly the pairs mcn.decode.pair_corners scores >= thr.
    boxes, scores, _ = pair_corners({n: v[None] for n, v in tl.items()},
                                    {n: v[None] for n, v in br.items()}, ae, num_dets=k * k)
    valid = scores[0] >= thr
    torch.testing.assert_close(torch.from_numpy(pairs["scores"][kept]), scores[0][valid])
    torch.testing.assert_close(torch.from_numpy(pairs["boxes"][kept]), boxes[0][valid])


def test_soft_nms_survivors_are_decodes_detections():
    outputs = random_outputs(seed=6)
    k, ae, thr = 10, 1.0, 0.55
    pairs = W.pair_candidates(outputs, k, ae, thr, STRIDE, num_dets=100, sigma=0.5)
    detections = decode(outputs, k=k, ae_threshold=ae, num_dets=100, max_dets=100,
                        soft_nms_sigma=0.5, score_threshold=thr)[0]
    survivors = np.nonzero(pairs["survives"])[0]
    assert len(survivors) > 0 and not np.any(pairs["reasons"][survivors])
    order = np.argsort(-pairs["final_scores"][survivors], kind="stable")
    np.testing.assert_allclose(pairs["final_scores"][survivors][order],
                               detections["scores"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(pairs["boxes"][survivors][order], detections["boxes"].numpy(),
                               rtol=1e-6)
    assert np.all(pairs["final_scores"][~pairs["survives"]] == 0)


def test_decode_figure_draws_and_handles_no_pairs():
    outputs = random_outputs(seed=6)
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    for thr in (0.5, 1.0):  # many pairs, then none at all
        pairs = W.pair_candidates(outputs, 10, 0.5, thr, STRIDE)
        assert isinstance(W.decode_figure(pairs, image, CLASSES), Figure)


def test_decode_figure_draws_the_ground_truth_and_counts_the_reasons():
    outputs = random_outputs(seed=4)
    pairs = W.pair_candidates(outputs, 10, 0.5, 0.55, STRIDE)
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    truth = np.array([[2.0, 3.0, 12.0, 14.0]])
    fig = W.decode_figure(pairs, image, CLASSES, boxes=truth)
    for ax in fig.axes:
        dashed = [p for p in ax.patches if p.get_linestyle() == "--"]
        assert len(dashed) == 1 and dashed[0].get_xy() == (2.0, 3.0)
    kept = fig.axes[0].patches[1:]                     # after the ground truth
    assert len(kept) == int((pairs["reasons"] == 0).sum())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    for reason in (1, 2, 3):
        assert f"{W.REJECTION_REASONS[reason]}: {int((pairs['reasons'] == reason).sum())}" in labels
