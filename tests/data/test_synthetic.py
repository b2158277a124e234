"""The synthetic TT100K-style scenes: item format, exact masks and tight boxes,
determinism per (seed, index), TT100K's size mix and sign count, the class arguments."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mcn.classes import BY_FREQUENCY, TYPE42, TYPE45
from mcn.data import signs, synthetic
from mcn.data.synthetic import (
    SIZE_BINS,
    SyntheticSigns,
    class_weights,
    sample_sign_size,
    size_bins,
)


SIZE = 128  # the smallest image size: fast, and every code path is the same


@pytest.fixture(scope="module")
def dataset() -> SyntheticSigns:
    return SyntheticSigns(12, image_size=SIZE, seed=3, classes="type45")


@pytest.fixture(scope="module")
def items(dataset):
    return [dataset[i] for i in range(len(dataset))]


def _naive_extent(mask: torch.Tensor) -> list[int]:
    """[min col, min row, max col + 1, max row + 1] of a mask, by plain loops."""
    rows, cols = [], []
    for r in range(mask.shape[0]):
        for c in range(mask.shape[1]):
            if mask[r, c]:
                rows.append(r)
                cols.append(c)
    return [min(cols), min(rows), max(cols) + 1, max(rows) + 1]


def test_item_format_and_dtypes(items):
    assert any(len(t["labels"]) > 0 for _, t in items), "no sign in 12 scenes"
    for index, (image, target) in enumerate(items):
        assert image.dtype == torch.uint8 and image.shape == (3, SIZE, SIZE)
        n = len(target["labels"])
        assert target["boxes"].dtype == torch.float32 and target["boxes"].shape == (n, 4)
        assert target["labels"].dtype == torch.int64
        assert target["masks"].dtype == torch.bool and target["masks"].shape == (n, SIZE, SIZE)
        assert target["image_id"] == index
        assert ((target["labels"] >= 0) & (target["labels"] < 45)).all()


def test_boxes_are_the_tight_extent_of_the_masks(items):
    checked = 0
    for _, target in items:
        for box, mask in zip(target["boxes"], target["masks"]):
            assert mask.any()
            assert box.tolist() == _naive_extent(mask)
            checked += 1
    assert checked > 5


def test_visible_masks_never_overlap(items):
    """What is in front hides what is behind: one pixel belongs to at most one sign."""
    for _, target in items:
        for a, b in itertools.combinations(target["masks"], 2):
            assert not (a & b).any()


def test_masks_cover_sign_coloured_pixels():
    """A mask marks the sign: its pixels differ from the background around the box."""
    ds = SyntheticSigns(20, image_size=256, seed=11)
    differences = []
    for i in range(len(ds)):
        scene = ds.render(i)
        for box, mask in zip(scene.boxes, scene.masks):
            x1, y1, x2, y2 = box.astype(int)
            if x2 - x1 < 20:
                continue
            inside = scene.image[mask].astype(float).mean(0)
            ring = np.zeros_like(mask)
            ring[max(y1 - 4, 0):y2 + 4, max(x1 - 4, 0):x2 + 4] = True
            ring[y1:y2, x1:x2] = False
            if ring.any():
                outside = scene.image[ring].astype(float).mean(0)
                differences.append(np.abs(inside - outside).sum())
    assert len(differences) > 5
    assert np.median(differences) > 20


def test_empty_image_has_empty_tensors_of_the_right_shape():
    ds = SyntheticSigns(40, image_size=SIZE, seed=0, empty_fraction=0.5)
    for i in range(len(ds)):
        _, target = ds[i]
        if len(target["labels"]) == 0:
            assert target["boxes"].shape == (0, 4) and target["masks"].shape == (0, SIZE, SIZE)
            return
    pytest.fail("no empty image among 40 with empty_fraction=0.5")


def _same(a, b) -> bool:
    (ia, ta), (ib, tb) = a, b
    return (torch.equal(ia, ib) and torch.equal(ta["boxes"], tb["boxes"])
            and torch.equal(ta["labels"], tb["labels"]) and torch.equal(ta["masks"], tb["masks"]))


def test_same_seed_and_index_give_the_same_item_in_any_order(dataset, items):
    fresh = SyntheticSigns(12, image_size=SIZE, seed=3, classes="type45")
    for i in reversed(range(len(fresh))):
        assert _same(fresh[i], items[i])
    assert _same(dataset[5], items[5])
    assert _same(dataset[-1], items[11])


def test_different_seeds_and_indices_differ(items):
    other = SyntheticSigns(12, image_size=SIZE, seed=4, classes="type45")
    assert not torch.equal(other[0][0], items[0][0])
    assert not torch.equal(items[0][0], items[1][0])


def test_items_do_not_depend_on_the_dataset_length():
    assert _same(SyntheticSigns(3, image_size=SIZE, seed=9)[2],
                 SyntheticSigns(50, image_size=SIZE, seed=9)[2])


def test_dataloader_workers_give_the_same_items():
    ds = SyntheticSigns(4, image_size=SIZE, seed=1)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    for i, item in enumerate(loader):
        assert _same(item, ds[i])


def test_size_sampler_follows_the_tt100k_mix():
    rng = np.random.default_rng(0)
    sides = np.array([sample_sign_size(rng, 512) for _ in range(20000)])
    # Binomial standard error at n=20000 is about 0.0035: allow 4 of them.
    assert abs(np.mean(sides < 32) - 0.379) < 0.015
    assert abs(np.mean((sides >= 32) & (sides < 96)) - 0.522) < 0.015
    assert abs(np.mean(sides >= 96) - 0.099) < 0.015
    assert sides.min() >= 10 and sides.max() <= 400
    # Sizes scale with the image; the smallest sign never drops below MIN_SIGN_PX.
    assert size_bins(256)[1][1:] == (16.0, 48.0)
    assert size_bins(128)[0][1] >= 5.0


def test_size_oversampling_reweighs_the_bins_and_names_a_bad_one():
    shares = [p for p, _, _ in size_bins(512, {"large": 2.0})]
    total = 0.379 + 0.522 + 2 * 0.099
    assert shares == pytest.approx([0.379 / total, 0.522 / total, 2 * 0.099 / total])
    rng = np.random.default_rng(0)
    sides = np.array([sample_sign_size(rng, 512, {"large": 2.0}) for _ in range(20000)])
    assert abs(np.mean(sides >= 96) - 2 * 0.099 / total) < 0.015
    scene = SyntheticSigns(1, image_size=SIZE, seed=3, size_oversample={"large": 1.0}).render(0)
    assert np.array_equal(scene.image, SyntheticSigns(1, image_size=SIZE, seed=3).render(0).image)
    with pytest.raises(ValueError, match="'huge' is not one of the size bins"):
        SyntheticSigns(1, size_oversample={"huge": 2.0})
    with pytest.raises(ValueError, match="small=0 must be a finite number > 0"):
        SyntheticSigns(1, size_oversample={"small": 0.0})


def test_lookalike_factor_multiplies_the_unlabelled_lookalikes(monkeypatch):
    drawn = []
    real = synthetic.clutter.draw_distractor
    monkeypatch.setattr(synthetic.clutter, "draw_distractor",
                        lambda *args, **kwargs: drawn.append(1) or real(*args, **kwargs))

    def lookalikes(factor: float) -> int:
        drawn.clear()
        for index in range(6):
            SyntheticSigns(6, image_size=SIZE, seed=3, lookalikes=factor).render(index)
        return len(drawn)

    once, thrice, none = lookalikes(1.0), lookalikes(3.0), lookalikes(0.0)
    assert 6 <= once <= 30 and thrice == pytest.approx(3 * once, abs=6) and none == 0
    plain = SyntheticSigns(1, image_size=SIZE, seed=3).render(0)
    same = SyntheticSigns(1, image_size=SIZE, seed=3, lookalikes=1.0).render(0)
    assert np.array_equal(plain.image, same.image)  # a factor of 1 draws the same scene
    with pytest.raises(ValueError, match="lookalikes must be a factor in 0-5, got -1"):
        SyntheticSigns(1, lookalikes=-1)


@pytest.mark.slow
def test_scenes_have_the_tt100k_size_mix_and_sign_count():
    """Over 240 scenes (about 600 signs) at 256 px: measured boxes, not sampled sizes."""
    image_size, n = 256, 240
    ds = SyntheticSigns(n, image_size=image_size, seed=123)
    counts, sides, spreads = [], [], []
    for i in range(n):
        scene = ds.render(i)
        counts.append(len(scene.boxes))
        b = scene.boxes * 512 / image_size
        sides.extend(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))
        if len(b) >= 2:
            spreads.append(np.std((b[:, 1] + b[:, 3]) / 2) / 512)
    sides = np.asarray(sides)
    # Standard errors: about 0.02 per bin fraction, 0.1 on the mean count.
    assert abs(np.mean(sides < 32) - SIZE_BINS[0][0]) < 0.07
    assert abs(np.mean((sides >= 32) & (sides < 96)) - SIZE_BINS[1][0]) < 0.07
    assert abs(np.mean(sides >= 96) - SIZE_BINS[2][0]) < 0.05
    assert abs(np.mean(counts) - 2.5) < 0.35
    assert 0.03 < np.mean(np.asarray(counts) == 0) < 0.2
    # A horizontal band: centres of one image spread less than uniform rows (0.29).
    assert np.mean(spreads) < 0.2


def test_class_weights_follow_the_long_tail():
    w = class_weights(TYPE45, "tt100k")
    assert math.isclose(w.sum(), 1.0)
    by_rank = [w[TYPE45.index(c)] for c in BY_FREQUENCY]
    assert all(a > b for a, b in zip(by_rank, by_rank[1:]))
    assert by_rank[0] / by_rank[-1] == pytest.approx(45.0)
    assert np.allclose(class_weights(TYPE45, "uniform"), 1 / 45)
    with pytest.raises(ValueError, match="class_balance"):
        class_weights(TYPE45, "zipf")


def test_oversampled_classes_weigh_their_factor_more():
    classes = ["pn", "pl40", "pl50", "i4"]
    w = class_weights(classes, "uniform", {"pl40": 3.0, "pl50": 3.0})
    assert w.tolist() == pytest.approx([1 / 8, 3 / 8, 3 / 8, 1 / 8])
    tail = class_weights(classes, "tt100k")
    boosted = class_weights(classes, "tt100k", {"i4": 2.0})
    assert boosted[3] / boosted[0] == pytest.approx(2 * tail[3] / tail[0])
    with pytest.raises(ValueError, match="'pl41' is not one of the classes"):
        class_weights(classes, "uniform", {"pl41": 2.0})
    with pytest.raises(ValueError, match="pl40=0 must be a finite number > 0"):
        class_weights(classes, "uniform", {"pl40": 0.0})


def test_sampled_classes_follow_the_balance():
    """The head class pn is common under "tt100k" and not under "uniform"."""
    def pn_share(balance):
        ds = SyntheticSigns(60, image_size=SIZE, seed=0, class_balance=balance)
        labels = np.concatenate([ds.render(i).labels for i in range(len(ds))])
        return np.mean(labels == ds.classes.index("pn")), len(labels)
    tt100k, n = pn_share("tt100k")
    uniform, _ = pn_share("uniform")
    assert n > 80
    # Expected shares: 1 / H_42 = 0.23 for tt100k against 1 / 42 = 0.024 for uniform.
    assert tt100k > 0.12 and uniform < 0.08


def test_classes_argument():
    assert SyntheticSigns(1, classes="type42").classes == TYPE42
    assert SyntheticSigns(1, classes="type45").num_classes == 45
    pair = SyntheticSigns(30, image_size=SIZE, seed=0, classes=["pl50", "pl60"])
    categories = set()
    for i in range(len(pair)):
        scene = pair.render(i)
        assert set(scene.labels.tolist()) <= {0, 1}
        categories.update(scene.categories)
    assert categories == {"pl50", "pl60"}
    with pytest.raises(ValueError, match="unknown class catalogue"):
        SyntheticSigns(1, classes="type99")
    with pytest.raises(ValueError, match="no look is known for zz9"):
        SyntheticSigns(1, classes=["pl50", "zz9"])


def test_type42_never_labels_the_other_classes():
    ds = SyntheticSigns(30, image_size=SIZE, seed=2)
    for i in range(len(ds)):
        assert not {"po", "io", "wo"} & set(ds.render(i).categories)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="image_size"):
        SyntheticSigns(1, image_size=64)
    with pytest.raises(ValueError, match="seed"):
        SyntheticSigns(1, seed=-1)
    with pytest.raises(ValueError, match="num_images"):
        SyntheticSigns(-1)
    with pytest.raises(ValueError, match="class_balance"):
        SyntheticSigns(1, class_balance="balanced")
    with pytest.raises(IndexError):
        SyntheticSigns(2, image_size=SIZE)[2]
    with pytest.raises(TypeError):
        SyntheticSigns(2, image_size=SIZE)["0"]


def test_tt100k_annotations_match_the_items():
    ds = SyntheticSigns(3, image_size=SIZE, seed=7)
    annotations = ds.tt100k_annotations()
    assert annotations["types"] == list(TYPE42)
    for i in range(3):
        _, target = ds[i]
        objects = annotations["imgs"][str(i)]["objects"]
        assert [o["category"] for o in objects] == [TYPE42[k] for k in target["labels"]]
        for o, box in zip(objects, target["boxes"].tolist()):
            assert [o["bbox"][k] for k in ("xmin", "ymin", "xmax", "ymax")] == box
