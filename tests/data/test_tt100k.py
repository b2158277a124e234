"""The TT100K loader on small fixtures written here in the real layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mcn.classes import TYPE42, TYPE45
from mcn.data.tt100k import TT100K, read_ids

H, W = 48, 64  # fixture image size (rows, columns)


def _write_image(path: Path, height: int = H, width: int = W) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((height, width, 3), 90, dtype=np.uint8)
    assert cv2.imwrite(str(path), image)


def write_fixture(root: Path, imgs: dict, ids: list[str], split: str = "train",
                  images: bool = True) -> Path:
    """annotations.json + <split>/ids.txt (+ blank lines) + one JPEG per listed id."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotations.json").write_text(json.dumps({"types": list(TYPE45), "imgs": imgs}))
    (root / split).mkdir(exist_ok=True)
    (root / split / "ids.txt").write_text("".join(f"{i}\n" for i in ids) + "\n\n")
    if images:
        for key in ids:
            if key in imgs:
                _write_image(root / imgs[key]["path"])
    return root


def _bbox(x1, y1, x2, y2):
    return {"xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2}


def _record(key, objects, split="train"):
    return {"path": f"{split}/{key}.jpg", "id": int(key), "objects": objects}


def standard_imgs() -> dict:
    return {
        "101": _record("101", [
            # A disc of radius 10 centred at (20, 18): box and ellipse.
            {"category": "pl50", "bbox": _bbox(10, 8, 30, 28),
             "ellipse": [[20, 18], [20, 20], 0]},
            # A triangle whose box reaches past the right and bottom image edges.
            {"category": "i5", "bbox": _bbox(50, 30, 70, 52),
             "polygon": [[50, 30], [70, 30], [50, 52]]},
            {"category": "zz99", "bbox": _bbox(1, 1, 5, 6)},  # unknown type
            {"category": "po", "bbox": _bbox(35, 2, 45, 12)},  # in type45, not type42
        ]),
        "102": _record("102", []),  # no sign at all: a negative
        "103": _record("103", [{"category": "zz99", "bbox": _bbox(3, 3, 9, 9)}]),
        "104": _record("104", [  # only "ellipse_org": points on a circle of radius 8
            {"category": "pn", "bbox": _bbox(12, 12, 28, 28),
             "ellipse_org": [[20 + 8 * np.cos(a), 20 + 8 * np.sin(a)]
                             for a in np.linspace(0, 2 * np.pi, 9)[:-1]]},
        ]),
        "999": _record("999", [], split="test"),  # another split: must not show up
    }


@pytest.fixture
def tt_root(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "tt100k", standard_imgs(), ["101", "102", "103", "104"])


def _pixel_centres():
    ys, xs = np.mgrid[0:H, 0:W]
    return xs + 0.5, ys + 0.5


def test_read_ids_skips_blank_lines(tmp_path: Path):
    (tmp_path / "ids.txt").write_text("5\n 7 \n\n9\n\n\n")
    assert read_ids(tmp_path / "ids.txt") == ["5", "7", "9"]


def test_items_follow_the_contract(tt_root: Path):
    data = TT100K(tt_root, "train", classes="type42")
    assert len(data) == 4
    for index in range(len(data)):
        image, target = data[index]
        n = len(target["labels"])
        assert image.dtype == torch.uint8 and image.shape == (3, H, W)
        assert target["boxes"].dtype == torch.float32 and target["boxes"].shape == (n, 4)
        assert target["labels"].dtype == torch.int64
        assert target["masks"].dtype == torch.bool and target["masks"].shape == (n, H, W)
        assert target["ignore_boxes"].shape[1] == 4
    assert [data[i][1]["image_id"] for i in range(4)] == [101, 102, 103, 104]
    image, _ = data[0]
    assert image[:, 0, 0].tolist() == [90, 90, 90]  # RGB from a grey file: no swap artefact


def test_labels_and_ignore_regions(tt_root: Path):
    _, target = TT100K(tt_root, classes="type42")[0]
    assert [TYPE42[i] for i in target["labels"]] == ["pl50", "i5"]
    # zz99 (not a class anywhere) and po (type45 only) become ignore regions.
    assert sorted(target["ignore_boxes"].tolist()) == [[1, 1, 5, 6], [35, 2, 45, 12]]
    _, target45 = TT100K(tt_root, classes="type45")[0]
    assert [TYPE45[i] for i in target45["labels"]] == ["pl50", "i5", "po"]
    _, explicit = TT100K(tt_root, classes=["i5"])[0]
    assert explicit["labels"].tolist() == [0] and len(explicit["ignore_boxes"]) == 3


def test_box_partly_outside_is_clipped(tt_root: Path):
    _, target = TT100K(tt_root)[0]
    assert target["boxes"][1].tolist() == [50, 30, W, H]
    assert target["boxes"][0].tolist() == [10, 8, 30, 28]


def test_ellipse_mask_is_the_disc_inside_the_box(tt_root: Path):
    _, target = TT100K(tt_root)[0]
    mask = target["masks"][0].numpy()
    cx, cy = _pixel_centres()
    distance = np.hypot(cx - 20, cy - 18)
    in_box = (cx > 10) & (cx < 30) & (cy > 8) & (cy < 28)
    assert not (mask & ~in_box).any()
    # OpenCV's rasteriser decides the boundary ring; inside and far outside are fixed.
    assert mask[distance <= 9.25].all()
    assert not mask[distance >= 10.75].any()
    assert abs(mask.sum() - np.pi * 10 ** 2) < 0.15 * np.pi * 10 ** 2


def test_polygon_mask_is_the_triangle_inside_the_clipped_box(tt_root: Path):
    _, target = TT100K(tt_root)[0]
    mask = target["masks"][1].numpy()
    cx, cy = _pixel_centres()
    # Triangle (50,30) (70,30) (50,52): inside where x > 50, y > 30 and on the corner's
    # side of the hypotenuse from (70, 30) to (50, 52); hyp is the signed distance to it.
    hyp = (22 * (cx - 70) + 20 * (cy - 30)) / np.hypot(22, 20)  # < 0 inside
    inside = (cx > 50) & (cy > 30) & (hyp < 0)
    assert not (mask & ~((cx > 50) & (cy > 30))).any()  # never outside the clipped box
    assert mask[inside & (hyp < -0.75)].all()
    assert not mask[hyp > 0.75].any()


def test_ellipse_org_is_fitted_when_ellipse_is_missing(tt_root: Path):
    _, target = TT100K(tt_root)[3]
    mask = target["masks"][0].numpy()
    cx, cy = _pixel_centres()
    distance = np.hypot(cx - 20, cy - 20)
    assert mask[distance <= 7.0].all() and not mask[distance >= 9.0].any()


def test_empty_images_are_negatives_unless_dropped(tt_root: Path):
    kept = TT100K(tt_root, classes="type42")
    assert len(kept[1][1]["labels"]) == 0 and kept[1][1]["masks"].shape == (0, H, W)
    dropped = TT100K(tt_root, classes="type42", keep_empty=False)
    assert [dropped[i][1]["image_id"] for i in range(len(dropped))] == [101, 104]


def test_tt100k_json_holds_only_the_split(tt_root: Path):
    gt = TT100K(tt_root).tt100k_json()
    assert sorted(gt["imgs"]) == ["101", "102", "103", "104"]
    assert gt["imgs"]["101"]["objects"][1]["bbox"]["xmax"] == 70  # as annotated


# ---------------------------------------------------------------------- bad input


def test_missing_root(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        TT100K(tmp_path / "nowhere")


def test_missing_ids_file(tt_root: Path):
    with pytest.raises(FileNotFoundError, match="ids.txt"):
        TT100K(tt_root, split="test")


def test_malformed_json(tt_root: Path):
    (tt_root / "annotations.json").write_text('{"imgs": {"101": ')
    with pytest.raises(ValueError, match="annotations.json is not valid JSON"):
        TT100K(tt_root)


def test_object_without_bbox(tmp_path: Path):
    imgs = {"7": _record("7", [{"category": "pn", "bbox": _bbox(1, 1, 5, 5)},
                               {"category": "pn"}])}
    root = write_fixture(tmp_path / "r", imgs, ["7"])
    with pytest.raises(ValueError, match=r"image 7, object 1.*bbox"):
        TT100K(root)


def test_inverted_or_non_numeric_box(tmp_path: Path):
    for bad in (_bbox(5, 1, 2, 5), _bbox("a", 1, 2, 5), {"xmin": 1, "ymin": 1, "xmax": 2}):
        imgs = {"7": _record("7", [{"category": "pn", "bbox": bad}])}
        root = write_fixture(tmp_path / "r", imgs, ["7"])
        with pytest.raises(ValueError, match="image 7, object 0"):
            TT100K(root)


def test_missing_image_raises_or_is_skipped_with_a_count(tt_root: Path):
    (tt_root / "train" / "102.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"102\.jpg.*id 102"):
        TT100K(tt_root)
    with pytest.warns(UserWarning, match="2 problem"):  # and the unknown category zz99
        data = TT100K(tt_root, skip_missing=True)
    assert len(data) == 3 and len(data.problems) == 2 and "102" in data.problems[0]
    assert data.skipped == [data.problems[0].removesuffix("; skipped")]


def test_id_absent_from_annotations(tt_root: Path):
    with open(tt_root / "train" / "ids.txt", "a") as f:
        f.write("555\n")
    with pytest.raises(ValueError, match="id 555"):
        TT100K(tt_root)
    with pytest.warns(UserWarning):
        assert len(TT100K(tt_root, skip_missing=True)) == 4


def test_unreadable_image_names_the_file(tt_root: Path):
    (tt_root / "train" / "101.jpg").write_bytes(b"not a jpeg at all")
    data = TT100K(tt_root)
    with pytest.raises(ValueError, match=r"101\.jpg.*could not be decoded"):
        data[0]


def test_degenerate_polygon_is_a_counted_warning(tmp_path: Path):
    imgs = {"7": _record("7", [{"category": "pn", "bbox": _bbox(2, 2, 9, 9),
                                "polygon": [[2, 2], [9, 9]]}])}
    root = write_fixture(tmp_path / "r", imgs, ["7"])
    with pytest.warns(UserWarning, match="fewer than 3 points"):
        data = TT100K(root)
    _, target = data[0]
    assert target["masks"][0].sum() == 7 * 7  # the box alone


def test_unknown_categories_are_named_not_silently_ignored(tt_root: Path):
    with pytest.warns(UserWarning, match=r"categories not in \"types\", made ignore regions: zz99"):
        TT100K(tt_root)


def test_a_zero_size_box_is_not_called_outside_the_image(tmp_path: Path):
    imgs = {"7": _record("7", [{"category": "pn", "bbox": _bbox(5, 5, 5, 9)},
                               {"category": "pn", "bbox": _bbox(100, 5, 110, 9)}])}
    root = write_fixture(tmp_path / "r", imgs, ["7"])
    with pytest.warns(UserWarning) as caught:
        _, target = TT100K(root)[0]
    messages = [str(w.message) for w in caught]
    assert any("object 0: box (5.0, 5.0, 5.0, 9.0) has zero width or height" in m for m in messages)
    assert any("object 1: box" in m and "lies outside the 64x48 image" in m for m in messages)
    assert not any("object 0" in m and "outside" in m for m in messages)
    assert len(target["boxes"]) == 0
