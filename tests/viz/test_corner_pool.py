"""The corner-pooling view: hand-made features and corner_pool of the region."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcn import viz as W
from mcn.nn import corner_pool
from tests.viz.views import SIZE


# --------------------------------------------------------------------------- corner pooling
def test_region_feature_by_hand():
    image = np.array([[[200, 50, 100], [10, 20, 250]]], dtype=np.uint8)  # (1, 2, 3)
    np.testing.assert_allclose(W.region_feature(image, None, "redness"), [[100 / 255, 0]],
                               rtol=1e-6)
    np.testing.assert_allclose(W.region_feature(image, None, "blueness"), [[0, 230 / 255]],
                               rtol=1e-6)
    np.testing.assert_allclose(W.region_feature(image, None, "brightness"),
                               [[350 / 765, 280 / 765]], rtol=1e-6)
    masks = torch.tensor([[[True, False]], [[False, False]]])
    np.testing.assert_array_equal(W.region_feature(image, masks, "sign masks"), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="feature"):
        W.region_feature(image, None, "greenness")


def test_pooled_maps_are_corner_pool_of_the_region(dataset):
    image, target = dataset[0]
    picture = image.permute(1, 2, 0).numpy()
    data = W.pool_data(picture, target, x=20, y=30, size=50, feature="brightness")
    assert data["window"] == (20, 30, 70, 80)
    region = torch.from_numpy(picture[30:80, 20:70].astype(np.float32) / 255).mean(dim=2)
    np.testing.assert_allclose(data["feature"], region.numpy(), rtol=1e-6)
    for direction in ("top", "left", "bottom", "right"):
        np.testing.assert_array_equal(data["pooled"][direction],
                                      corner_pool(region, direction).numpy())
    # top: the maximum of the column from this row down, by hand at one position
    assert data["pooled"]["top"][10, 4] == pytest.approx(float(region[10:, 4].max()))
    np.testing.assert_allclose(data["pooled"]["top + left"],
                               data["pooled"]["top"] + data["pooled"]["left"])
    np.testing.assert_allclose(data["pooled"]["bottom + right"],
                               data["pooled"]["bottom"] + data["pooled"]["right"])
    np.testing.assert_allclose(data["boxes"], target["boxes"].numpy() - [20, 30, 20, 30])
    clipped = W.pool_data(picture, target, x=SIZE - 10, y=SIZE - 4, size=50, feature="redness")
    assert clipped["window"] == (SIZE - 10, SIZE - 4, SIZE, SIZE)
    assert clipped["feature"].shape == (4, 10)
