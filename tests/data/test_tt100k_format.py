"""The TT100K JSON form: detections (scores x 100) and ground truth written, predictions
kept in [0, 1], objects from arrays or tensors."""

from __future__ import annotations

import pytest
import torch

from mcn.classes import TYPE42
from mcn.data.tt100k_format import (TT100K_SCORE_SCALE, detections_to_tt100k, prediction_record,
                                    targets_to_tt100k, tt100k_objects)
from tests.data.test_geometry import LETTERBOX


# --------------------------------------------------------------------------- TT100K
def test_tt100k_result_and_ground_truth_forms():
    dets = [{"boxes": torch.tensor([[1.0, 2.0, 30.0, 40.0]]), "scores": torch.tensor([0.75]),
             "labels": torch.tensor([3])},
            {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0),
             "labels": torch.zeros(0, dtype=torch.long)}]
    result = detections_to_tt100k(dets, [10056, "abc"], "type42")
    assert set(result["imgs"]) == {"10056", "abc"}
    (obj,) = result["imgs"]["10056"]["objects"]
    assert obj == {"bbox": {"xmin": 1.0, "ymin": 2.0, "xmax": 30.0, "ymax": 40.0},
                   "category": TYPE42[3], "score": 75.0}
    assert result["imgs"]["abc"]["objects"] == []

    targets = [{"boxes": torch.tensor([[100.0, 228.0, 140.0, 268.0]]),
                "labels": torch.tensor([0]), "image_id": 7}]
    gt = targets_to_tt100k(targets, "type42", letterbox=[LETTERBOX])
    (obj,) = gt["imgs"]["7"]["objects"]
    assert obj == {"bbox": {"xmin": 400.0, "ymin": 400.0, "xmax": 560.0, "ymax": 560.0},
                   "category": TYPE42[0]}
    with pytest.raises(ValueError, match=r"targets\[0\]: labels must be integers in \[0, 42\)"):
        targets_to_tt100k([{**targets[0], "labels": torch.tensor([42])}], "type42")


def test_tt100k_objects_from_tensors():
    import torch

    # Labels index type42: 0 -> "i2", 35 -> "pne" (type42 drops io, po and wo).
    boxes = torch.tensor([[10.0, 20.0, 30.0, 44.0], [0.0, 0.0, 5.0, 5.0]])
    scores = torch.tensor([0.5, 0.25]) * 100  # percent, for the official minscore 40
    entry = tt100k_objects(boxes, torch.tensor([0, 35]), "type42", scores=scores)
    assert entry == {"objects": [
        {"category": "i2", "bbox": {"xmin": 10.0, "ymin": 20.0, "xmax": 30.0, "ymax": 44.0},
         "score": 50.0},
        {"category": "pne", "bbox": {"xmin": 0.0, "ymin": 0.0, "xmax": 5.0, "ymax": 5.0},
         "score": 25.0},
    ]}
    assert tt100k_objects(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)) == {"objects": []}
    gt_entry = tt100k_objects(boxes, [0, 35])
    assert "score" not in gt_entry["objects"][0]
    with pytest.raises(ValueError, match="labels must be integers"):
        tt100k_objects(boxes, [0, 42])
    with pytest.raises(ValueError, match="boxes must have shape"):
        tt100k_objects(boxes[:, :3], [0, 1])
    with pytest.raises(ValueError, match="scores must have shape"):
        tt100k_objects(boxes, [0, 1], scores=[1.0])


def test_predictions_keep_probabilities_and_drop_low_scores():
    prediction = {"boxes": torch.tensor([[1.0, 2.0, 30.0, 40.0], [5.0, 5.0, 9.0, 9.0]]),
                  "scores": torch.tensor([0.75, 0.25]), "labels": torch.tensor([3, 0]),
                  "mask": None}
    record = prediction_record(prediction, TYPE42, "scene.jpg", min_score=0.3)
    assert record == {"image": "scene.jpg", "objects": [
        {"category": TYPE42[3], "bbox": {"xmin": 1.0, "ymin": 2.0, "xmax": 30.0, "ymax": 40.0},
         "score": 0.75}]}
    # The same detections as a TT100K result carry the scores in percent.
    (obj,) = detections_to_tt100k([prediction], ["a"], "type42")["imgs"]["a"]["objects"][:1]
    assert obj["score"] == 75.0 and TT100K_SCORE_SCALE == 100.0
