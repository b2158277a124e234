"""The heatmap confusion: what each class channel says at the corners of each class's signs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcn.classes import top_classes
from mcn.data.synthetic import SyntheticSigns
from mcn.experiments.corner_confusion import corner_confusion, corner_heat


class PlantedHeat(nn.Module):
    """A stand-in detector: channel 0 is certain everywhere, channel 1 only on the
    top-left corner cell (2, 3) and the bottom-right cell (5, 6), channel 2 nowhere."""

    stride = 4

    def forward(self, images):
        size = images.shape[-1] // self.stride
        tl = torch.full((1, 3, size, size), -30.0)
        br = tl.clone()
        tl[:, 0] = br[:, 0] = 30.0
        tl[0, 1, 3, 2] = br[0, 1, 6, 5] = 30.0
        return {"tl_heat": tl, "br_heat": br}


def test_corner_heat_reads_each_channel_at_both_corners():
    model = PlantedHeat()
    image = torch.zeros(3, 64, 64)
    boxes = torch.tensor([[8.0, 12.0, 24.0, 28.0],     # corners in cells (2, 3) and (5, 6)
                          [40.0, 40.0, 60.0, 60.0]])   # far from channel 1's cells
    heat = corner_heat(model, image, boxes)
    assert heat.shape == (2, 3)
    torch.testing.assert_close(heat[0], torch.tensor([1.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(heat[1], torch.tensor([1.0, 0.0, 0.0]), atol=1e-6, rtol=0)


def test_corner_confusion_averages_over_the_signs_of_each_class_in_the_size_range():
    classes = top_classes(3)
    scenes = SyntheticSigns(3, 128, 5, classes, signs_per_image=4.0)
    result = corner_confusion(PlantedHeat(), scenes, classes, 128)
    counted = sum(result["signs"].values())
    assert counted == sum(len(scenes[i][1]["labels"]) for i in range(len(scenes))) > 0
    for name, row in result["heat"].items():
        if result["signs"][name]:
            assert row[0] == pytest.approx(1.0) and row[2] == pytest.approx(0.0)
            assert 0.0 <= row[1] <= 1.0
        else:
            assert row is None
    none = corner_confusion(PlantedHeat(), scenes, classes, 128, size_range=(1000.0, 2000.0))
    assert sum(none["signs"].values()) == 0 and all(r is None for r in none["heat"].values())
