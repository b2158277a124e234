"""Decoding: round trip from targets, pair rejection, soft-NMS, back to the original image,
batches."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
import pytest
import torch

from mcn.decode import decode, soft_nms
from mcn.targets import build_targets
from tests.data.test_geometry import LETTERBOX
from tests.test_boxes import iou_by_hand


STRIDE = 4


def perfect_outputs(t, eps=1e-4):
    """Model outputs that reproduce targets ``t``: logit of the heatmaps, the true offsets
    at the corners, and one embedding per object (10, 13, 16, ...; background 0)."""
    batch, _, h, w = t["tl_heat"].shape
    out = {}
    for corner in ("tl", "br"):
        heat = t[f"{corner}_heat"].double().clamp(eps, 1 - eps)
        out[f"{corner}_heat"] = (heat.log() - (-heat).log1p()).float()
        emb = torch.zeros(batch, 1, h * w)
        off = torch.zeros(batch, 2, h * w)
        for b in range(batch):
            for m in range(t["valid"].shape[1]):
                if t["valid"][b, m]:
                    cell = t[f"{corner}_idx"][b, m]
                    emb[b, 0, cell] = 10.0 + 3 * m
                    off[b, :, cell] = t[f"{corner}_off"][b, m]
        out[f"{corner}_emb"] = emb.reshape(batch, 1, h, w)
        out[f"{corner}_off"] = off.reshape(batch, 2, h, w)
    return out


# --------------------------------------------------------------------------- round trip
SIDE = 64  # input side; the output map is 16 x 16


coordinate = st.integers(0, 2 * SIDE).map(lambda v: v / 2)  # half-pixel positions


box_spec = st.tuples(coordinate, coordinate,
                     st.sampled_from([2, 3, 5, 8, 9, 12, 17, 24, 40]).map(float),  # width
                     st.sampled_from([2, 4, 8, 10, 12, 20, 33]).map(float),        # height
                     st.integers(0, 2),                                            # class
                     st.booleans())                                                # touch


def make_boxes(specs):
    """Boxes from specs; a 'touch' spec starts where the previous box ends (x2 == x1')."""
    boxes, labels = [], []
    for x1, y1, w, h, label, touch in specs:
        if touch and boxes:
            x1, y1 = boxes[-1][2], boxes[-1][1]
        x2, y2 = min(x1 + w, SIDE), min(y1 + h, SIDE)
        if x2 > x1 and y2 > y1:
            boxes.append([x1, y1, x2, y2])
            labels.append(label)
    return boxes, labels


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(box_spec, min_size=1, max_size=7))
def test_round_trip_targets_to_boxes(specs):
    boxes, labels = make_boxes(specs)
    assume(boxes)
    t = build_targets([{"boxes": torch.tensor(boxes), "labels": torch.tensor(labels)}], 3,
                      (SIDE, SIDE), stride=STRIDE)
    # Two corners of one type in one cell would share an embedding: not representable.
    assume(len(set(t["tl_idx"][0].tolist())) == len(boxes))
    assume(len(set(t["br_idx"][0].tolist())) == len(boxes))
    dets = decode(perfect_outputs(t), k=100, score_threshold=0.0)[0]
    found = [(d, s, l) for d, s, l in zip(dets["boxes"].tolist(), dets["scores"].tolist(),
                                          dets["labels"].tolist())]
    # Every object comes back, with its class, at IoU >= 0.99 (exact up to float error).
    matched = set()
    for box, label in zip(boxes, labels):
        hits = [i for i, (d, _, l) in enumerate(found) if l == label and iou_by_hand(d, box) >= 0.99]
        assert hits, f"object {box} class {label} not decoded"
        matched.update(hits)
        assert any(max(abs(u - v) for u, v in zip(found[i][0], box)) < 1e-3 for i in hits)
    assert len(matched) == len(boxes)
    # Nothing else scores above a low threshold (background pairs score ~1e-4).
    for i, (_, score, _) in enumerate(found):
        if i not in matched:
            assert score < 1e-3


# --------------------------------------------------------------------------- rejection
def two_corner_outputs(tl_cell, br_cell, tl_class, br_class, tl_emb=5.0, br_emb=5.0):
    """One TL and one BR peak on a 2-class 16 x 16 map, logits -10 elsewhere."""
    out = {name: torch.full((1, 2, 16, 16), -10.0) for name in ("tl_heat", "br_heat")}
    out["tl_heat"][0, tl_class, tl_cell[1], tl_cell[0]] = 8.0
    out["br_heat"][0, br_class, br_cell[1], br_cell[0]] = 8.0
    out["tl_emb"] = torch.zeros(1, 1, 16, 16)
    out["br_emb"] = torch.zeros(1, 1, 16, 16)
    out["tl_emb"][0, 0, tl_cell[1], tl_cell[0]] = tl_emb
    out["br_emb"][0, 0, br_cell[1], br_cell[0]] = br_emb
    out["tl_off"] = torch.full((1, 2, 16, 16), 0.5)
    out["br_off"] = torch.full((1, 2, 16, 16), 0.5)
    return out


def confident(dets, threshold=0.01):
    keep = dets["scores"] > threshold
    return dets["boxes"][keep], dets["labels"][keep]


def test_a_matching_pair_is_one_box():
    boxes, labels = confident(decode(two_corner_outputs((2, 3), (8, 9), 1, 1))[0])
    assert labels.tolist() == [1]
    assert torch.allclose(boxes, torch.tensor([[10.0, 14.0, 34.0, 38.0]]))  # (cell+0.5)*4


def test_cross_class_pairs_are_rejected():
    boxes, _ = confident(decode(two_corner_outputs((2, 3), (8, 9), 0, 1))[0])
    assert len(boxes) == 0


def test_inverted_geometry_is_rejected():
    boxes, _ = confident(decode(two_corner_outputs((8, 9), (2, 3), 1, 1))[0])
    assert len(boxes) == 0
    boxes, _ = confident(decode(two_corner_outputs((2, 9), (8, 3), 1, 1))[0])  # BR above TL
    assert len(boxes) == 0


def test_distant_embeddings_are_rejected_at_the_threshold():
    near = two_corner_outputs((2, 3), (8, 9), 0, 0, tl_emb=5.0, br_emb=5.4)
    far = two_corner_outputs((2, 3), (8, 9), 0, 0, tl_emb=5.0, br_emb=5.6)
    assert len(confident(decode(near, ae_threshold=0.5)[0])[0]) == 1
    assert len(confident(decode(far, ae_threshold=0.5)[0])[0]) == 0
    assert len(confident(decode(far, ae_threshold=0.7)[0])[0]) == 1


def test_score_is_the_mean_of_the_corner_scores():
    out = two_corner_outputs((2, 3), (8, 9), 0, 0)
    out["br_heat"][0, 0, 9, 8] = 0.0  # sigmoid 0.5
    dets = decode(out)[0]
    expected = (1 / (1 + math.exp(-8.0)) + 0.5) / 2
    assert dets["scores"][0].item() == pytest.approx(expected, rel=1e-5)


def test_k_limits_the_corners():
    boxes = torch.tensor([[4.0, 4.0, 20.0, 20.0], [30.0, 30.0, 60.0, 50.0]])
    t = build_targets([{"boxes": boxes, "labels": torch.tensor([0, 1])}], 3, (SIDE, SIDE))
    out = perfect_outputs(t)
    assert len(confident(decode(out, k=100)[0])[0]) == 2
    assert len(confident(decode(out, k=1)[0])[0]) <= 1


def test_decode_wants_the_eval_mode_dict():
    with pytest.raises(TypeError, match="outputs\\[-1\\]"):
        decode([two_corner_outputs((2, 3), (8, 9), 0, 0)])


# --------------------------------------------------------------------------- soft-NMS
def soft_nms_by_loop(boxes, scores, labels, sigma=0.5, threshold=0.001):
    items = [[b, s, l, i] for i, (b, s, l) in enumerate(zip(boxes, scores, labels))]
    kept = []
    while items:
        best = max(range(len(items)), key=lambda j: items[j][1])
        box, score, label, index = items.pop(best)
        kept.append((index, score))
        for item in items:
            if item[2] == label:
                item[1] *= math.exp(-iou_by_hand(box, item[0]) ** 2 / sigma)
        items = [item for item in items if item[1] >= threshold]
    kept.sort(key=lambda p: -p[1])
    return kept


def test_soft_nms_lowers_a_heavy_duplicate_only_within_its_class():
    boxes = torch.tensor([[10.0, 10.0, 50.0, 50.0], [12.0, 10.0, 52.0, 50.0],
                          [12.0, 10.0, 52.0, 50.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    labels = torch.tensor([0, 0, 1])
    keep, new = soft_nms(boxes, scores, labels)
    by_index = dict(zip(keep.tolist(), new.tolist()))
    iou = 38 * 40 / (40 * 40 + 40 * 40 - 38 * 40)  # 0.9048
    assert by_index[0] == pytest.approx(0.9)
    assert by_index[1] == pytest.approx(0.8 * math.exp(-iou ** 2 / 0.5), rel=1e-5)
    assert by_index[2] == pytest.approx(0.7)  # other class: untouched


def test_soft_nms_matches_the_loop():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(40, 2, generator=gen) * 50
    boxes = torch.cat([xy, xy + torch.rand(40, 2, generator=gen) * 30 + 2], 1)
    scores = torch.rand(40, generator=gen)
    labels = torch.randint(0, 3, (40,), generator=gen)
    keep, new = soft_nms(boxes.double(), scores.double(), labels, 0.5, 0.05)
    expected = soft_nms_by_loop(boxes.double().tolist(), scores.double().tolist(),
                                labels.tolist(), 0.5, 0.05)
    assert keep.tolist() == [i for i, _ in expected]
    assert new.tolist() == pytest.approx([s for _, s in expected], rel=1e-9)
    assert len(expected) < 40  # the threshold did drop boxes


def test_decode_maps_boxes_back_to_the_original_image():
    input_box = [100.0, 228.0, 140.0, 268.0]
    padding_box = [200.0, 20.0, 240.0, 60.0]  # lies in the top padding: dropped
    t = build_targets([{"boxes": torch.tensor([input_box, padding_box]),
                        "labels": torch.tensor([1, 1])}], 3, (512, 512))
    dets = decode(perfect_outputs(t), letterbox=[LETTERBOX])[0]
    boxes, labels = confident(dets)
    assert labels.tolist() == [1]
    assert torch.allclose(boxes, torch.tensor([[400.0, 400.0, 560.0, 560.0]]), atol=1e-3)
    with pytest.raises(ValueError, match="letterbox"):
        decode(perfect_outputs(t), letterbox=[{"scale": 1.0}])


# --------------------------------------------------------------------------- batches
def test_a_batch_decodes_like_its_images_one_by_one():
    gen = torch.Generator().manual_seed(7)

    def rand(*shape, shift=0.0):
        return torch.randn(*shape, generator=gen) + shift

    out = {"tl_heat": rand(2, 5, 16, 16, shift=-2), "br_heat": rand(2, 5, 16, 16, shift=-2),
           "tl_emb": rand(2, 1, 16, 16), "br_emb": rand(2, 1, 16, 16),
           "tl_off": rand(2, 2, 16, 16), "br_off": rand(2, 2, 16, 16)}
    together = decode(out, k=30, num_dets=50, max_dets=20)
    for i in range(2):
        alone = decode({name: value[i:i + 1] for name, value in out.items()}, k=30,
                       num_dets=50, max_dets=20)[0]
        for name in ("boxes", "scores", "labels"):
            assert torch.equal(together[i][name], alone[name]), name
        dets = together[i]
        assert 0 < len(dets["scores"]) <= 20
        assert dets["labels"].dtype == torch.int64 and dets["boxes"].dtype == torch.float32
        assert (dets["scores"][:-1] >= dets["scores"][1:]).all()
        assert (dets["boxes"][:, 2] > dets["boxes"][:, 0]).all()
        assert (dets["boxes"][:, 3] > dets["boxes"][:, 1]).all()


def test_without_soft_nms_a_duplicate_keeps_its_score():
    # Two same-class objects overlapping heavily (IoU 2/3): soft-NMS lowers the second.
    boxes = torch.tensor([[8.0, 8.0, 48.0, 48.0], [8.0, 16.0, 48.0, 56.0]])
    t = build_targets([{"boxes": boxes, "labels": torch.tensor([0, 0])}], 2, (SIDE, SIDE))
    out = perfect_outputs(t)
    plain = decode(out, soft_nms_sigma=None, score_threshold=0.01)[0]
    soft = decode(out, score_threshold=0.01)[0]
    assert len(plain["scores"]) == len(soft["scores"]) == 2
    assert plain["scores"][1] == pytest.approx(plain["scores"][0].item())
    iou = 32 * 40 / (2 * 40 * 40 - 32 * 40)  # 0.667
    assert soft["scores"][1].item() == pytest.approx(
        plain["scores"][1].item() * math.exp(-iou ** 2 / 0.5), rel=1e-5)
