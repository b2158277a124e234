"""Box IoU and long side, for tensors and arrays, against the hand formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcn.boxes import box_iou, long_side


def iou_by_hand(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_box_iou_matches_the_hand_formula():
    gen = torch.Generator().manual_seed(1)
    xy = torch.rand(6, 2, generator=gen) * 10
    boxes = torch.cat([xy, xy + torch.rand(6, 2, generator=gen) * 10], 1).double()
    iou = box_iou(boxes, boxes[:4])
    for i in range(6):
        for j in range(4):
            assert iou[i, j].item() == pytest.approx(iou_by_hand(boxes[i].tolist(),
                                                                 boxes[j].tolist()))


def test_box_iou_and_long_side_agree_for_arrays_and_tensors():
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 15.0, 25.0], [3.0, 3.0, 3.0, 3.0]])
    iou = box_iou(boxes, boxes)
    assert isinstance(iou, np.ndarray) and iou.dtype == np.float64
    np.testing.assert_allclose(iou, box_iou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy())
    assert iou[0, 1] == pytest.approx(25 / (100 + 200 - 25)) and iou[2, 2] == 0.0  # no area: 0, not 0/0
    assert long_side(boxes).tolist() == [10.0, 20.0, 0.0]
    assert long_side(torch.from_numpy(boxes)).tolist() == [10.0, 20.0, 0.0]
