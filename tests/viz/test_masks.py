"""The mask view: the predicted and true class maps, where they agree, and the IoUs, on a
hand-made example whose answers are counted by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mcn import viz as W
from mcn.models import build_model
from tests.viz.views import CLASSES


def hand_made():
    """A 16 px image with one sign of label 1 (class map value 2) on the 8 x 8 mask grid,
    cells [0:4, 0:4]; the prediction gets rows 0-2 of it right in columns 0-1, calls
    columns 2-3 class 1, misses row 3 and invents class 1 at [6:8, 6:8]."""
    model = SimpleNamespace(has_mask=True, num_classes=2, stride=4, mask_stride=2,
                            variant="hand-made")
    masks = torch.zeros(1, 16, 16, dtype=torch.bool)
    masks[0, :8, :8] = True
    target = {"boxes": torch.tensor([[0.0, 0.0, 8.0, 8.0]]), "labels": torch.tensor([1]),
              "masks": masks}
    logits = torch.zeros(3, 8, 8)
    logits[0] = 5.0                                   # background everywhere ...
    logits[2, 0:3, 0:2] = 10.0                        # ... but the right class here
    logits[1, 0:3, 2:4] = 10.0                        # the wrong class
    logits[1, 6:8, 6:8] = 10.0                        # a sign on background
    run = W.ModelRun(np.zeros((16, 16, 3), dtype=np.uint8), target, [{"mask": logits[None]}], [])
    return model, run, logits


def test_mask_data_by_hand():
    model, run, logits = hand_made()
    data = W.mask_data(model, run, 0, W.ALL_CLASSES)
    truth = np.zeros((8, 8), dtype=np.int64)
    truth[:4, :4] = 2
    np.testing.assert_array_equal(data["truth"], truth)
    np.testing.assert_array_equal(data["predicted"], logits.argmax(0).numpy())
    counts = np.bincount(data["agreement"].ravel(), minlength=5)
    # right class 3 x 2, wrong class 3 x 2, sign on background 2 x 2, missed row 3: 4
    assert counts.tolist() == [64 - 6 - 6 - 4 - 4, 6, 6, 4, 4]
    assert data["sign_iou"] == pytest.approx(12 / 20)
    np.testing.assert_allclose(data["probability"],
                               1 - torch.softmax(logits, 0)[0].numpy(), rtol=1e-6)
    assert data["class_iou"] is None
    one = W.mask_data(model, run, 0, 1)                # label 1: class map value 2
    assert one["class_iou"] == pytest.approx(6 / 16)
    np.testing.assert_allclose(one["probability"], torch.softmax(logits, 0)[2].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="class_index"):
        W.mask_data(model, run, 0, 2)
    with pytest.raises(ValueError, match="stack"):
        W.mask_data(model, run, 1, 0)


def test_mask_figure_colours_the_classes_and_says_what_they_are():
    model, run, _ = hand_made()
    data = W.mask_data(model, run, 0, W.ALL_CLASSES)
    fig = W.mask_figure(data, ["pn", "pl50"])
    predicted = fig.axes[0].images[1].get_array()
    colours = W.class_colours(2)
    np.testing.assert_allclose(predicted[0, 0, :3], colours[1])      # pl50 where right
    np.testing.assert_allclose(predicted[0, 3, :3], colours[0])      # pn where wrong
    assert predicted[5, 5, 3] == 0                                   # background is clear
    agreement = fig.axes[3].images[1].get_array()
    np.testing.assert_allclose(agreement[7, 7], W.AGREEMENT[3][1])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["pn", "pl50"]
    assert all(W.AGREEMENT[k][0] in labels for k in (1, 2, 3, 4))
    assert "sign IoU 0.60" in fig.axes[3].get_title()


def test_mask_explorer_needs_the_mask_module(dataset):
    plain = build_model("cornernet-squeeze", num_classes=len(CLASSES), preset="tiny")
    with pytest.raises(ValueError, match="mask module"):
        W.mask_explorer(plain, dataset)
