"""Writing any dataset in the TT100K layout: read back with the same boxes and masks,
splits merged, existing splits and repeated ids refused."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mcn.data.tt100k import TT100K
from mcn.data.tt100k_writer import write_tt100k


class ToyDataset:
    """Images with drawn rectangles and discs; boxes are the masks' exact extents."""

    classes = ("pn", "pl50", "i5")

    def __init__(self, ids=(0, 1, 2), size=(40, 56)):
        self.ids, self.size = list(ids), size

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        height, width = self.size
        image = np.zeros((height, width, 3), dtype=np.uint8)
        image[..., 2] = np.linspace(20, 120, width, dtype=np.uint8)  # a smooth background
        masks, labels = [], []
        for k in range(index + 1):  # item i has i + 1 objects
            mask = np.zeros((height, width), dtype=np.uint8)
            x, y = 6 + 15 * k, 5 + 9 * k
            if k % 2 == 0:
                cv2.rectangle(mask, (x, y), (x + 9, y + 6), 1, -1)
            else:
                cv2.circle(mask, (x + 6, y + 6), 6, 1, -1)
            image[mask.astype(bool)] = (200, 40 * k, 30)
            masks.append(mask.astype(bool))
            labels.append(k % 3)
        boxes = []
        for m in masks:  # naive extents: first/last occupied column and row
            cols = [c for c in range(width) if m[:, c].any()]
            rows = [r for r in range(height) if m[r, :].any()]
            boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), {
            "boxes": torch.tensor(boxes, dtype=torch.float32),
            "labels": torch.tensor(labels), "masks": torch.from_numpy(np.stack(masks)),
            "image_id": self.ids[index]}


def test_write_then_read_gives_the_same_boxes_and_masks(tmp_path: Path):
    toy = ToyDataset()
    write_tt100k(toy, tmp_path / "out", split="train")
    data = TT100K(tmp_path / "out", "train", classes=ToyDataset.classes)
    assert len(data) == len(toy)
    for index in range(len(toy)):
        image, target = data[index]
        image0, target0 = toy[index]
        assert target["image_id"] == target0["image_id"]
        assert torch.equal(target["boxes"], target0["boxes"])
        assert torch.equal(target["labels"], target0["labels"])
        for m, m0 in zip(target["masks"], target0["masks"]):
            assert (m != m0).sum() <= 2, "the outline polygon should redraw the mask"
        assert (image.int() - image0.int()).abs().float().mean() < 8  # JPEG, nearly equal
    annotations = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert set(ToyDataset.classes) <= set(annotations["types"])
    assert annotations["imgs"]["1"]["path"] == "train/1.jpg"


def test_second_split_merges_and_existing_split_is_protected(tmp_path: Path):
    out = tmp_path / "out"
    write_tt100k(ToyDataset(ids=(0, 1)), out, split="train")
    with pytest.raises(ValueError, match="already belongs.*renumber"):
        write_tt100k(ToyDataset(ids=(1, 5)), out, split="test")
    write_tt100k(ToyDataset(ids=(0, 1)), out, split="test", renumber=True)
    train = TT100K(out, "train", classes=ToyDataset.classes)
    test = TT100K(out, "test", classes=ToyDataset.classes)
    assert [train[i][1]["image_id"] for i in range(2)] == [0, 1]
    assert [test[i][1]["image_id"] for i in range(2)] == [2, 3]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_tt100k(ToyDataset(ids=(0,)), out, split="train")
    write_tt100k(ToyDataset(ids=(0,)), out, split="train", overwrite=True)
    annotations = json.loads((out / "annotations.json").read_text())
    assert sorted(annotations["imgs"]) == ["0", "2", "3"]  # train 1 gone, test kept
    assert len(TT100K(out, "train", classes=ToyDataset.classes)) == 1


def test_writer_rejects_repeated_ids(tmp_path: Path):
    with pytest.raises(ValueError, match="occurs twice"):
        write_tt100k(ToyDataset(ids=(4, 4)), tmp_path / "out")


def test_writer_refuses_normalised_images(tmp_path: Path):
    class Normalised(ToyDataset):
        def __getitem__(self, index):
            image, target = super().__getitem__(index)
            return image.float() / 255, target
    with pytest.raises(TypeError, match="uint8"):
        write_tt100k(Normalised(), tmp_path / "out")
