"""Drawn signs: every type45 class distinct, limit signs differ only by their number, masks
with the area of their outline, clear errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mcn.classes import TYPE45
from mcn.data import signs


@pytest.fixture(scope="module")
def gallery():
    return {c: signs.draw_sign(c, 48) for c in TYPE45}


def test_every_type45_class_is_drawn_distinctly(gallery):
    for category, (rgb, mask) in gallery.items():
        assert rgb.dtype == np.uint8 and rgb.shape[2] == 3 and mask.dtype == bool
        assert rgb.shape[:2] == mask.shape and max(mask.shape) == 48
        assert mask.mean() > 0.4, category
    for a, b in itertools.combinations(TYPE45, 2):
        (ra, _), (rb, _) = gallery[a], gallery[b]
        if ra.shape == rb.shape:
            diff = np.abs(ra.astype(int) - rb.astype(int)).sum(-1)
            assert (diff > 60).sum() > 10, f"{a} and {b} look the same"


def test_limit_signs_differ_only_inside_the_ring(gallery):
    """pl50 and pl60 share shape and ring; only the number differs."""
    (a, mask_a), (b, mask_b) = gallery["pl50"], gallery["pl60"]
    assert np.array_equal(mask_a, mask_b)
    diff = np.abs(a.astype(int) - b.astype(int)).sum(-1) > 60
    assert diff.sum() > 20
    ys, xs = np.nonzero(diff)
    radius = np.hypot(xs + 0.5 - 24, ys + 0.5 - 24)
    assert radius.max() < 0.8 * 24  # all differences inside the white face


def _shoelace(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(sum(x[i] * y[i - 1] - x[i - 1] * y[i] for i in range(len(x))))


def test_sign_masks_have_the_area_of_their_outline():
    expected_shapes = {"pl50": "disc", "w57": "triangle", "pg": "inverted_triangle",
                       "ip": "square"}
    for category, shape in expected_shapes.items():
        assert signs.sign_shape(category) == shape
        _, mask = signs.draw_sign(category, 80)
        area = _shoelace(signs.sign_outline(category, 80))
        assert abs(mask.sum() - area) / area < 0.02, category
    _, disc = signs.draw_sign("pl50", 80)
    assert abs(disc.sum() - math.pi * 40 ** 2) / (math.pi * 40 ** 2) < 0.02


def test_sign_outline_matches_the_mask():
    outline = signs.sign_outline("pl60", 64)
    assert np.allclose(np.hypot(*(outline - 32).T), 32)
    tri = signs.sign_outline("w13", 64)
    _, mask = signs.draw_sign("w13", 64)
    assert tri[:, 0].min() == pytest.approx(0) and tri[:, 0].max() == pytest.approx(64)
    assert tri[:, 1].max() == pytest.approx(mask.shape[0], abs=1)


def test_unknown_category_and_bad_size_are_rejected():
    with pytest.raises(ValueError, match="cannot draw"):
        signs.draw_sign("p999x", 32)
    with pytest.raises(ValueError, match="size"):
        signs.draw_sign("pl50", 2)
    assert signs.is_drawable("pl90") and not signs.is_drawable("xyz")
