"""A scene drawn by hand for the data tests: three objects of known colour and shape, box
extents found by loops, and a check that a transformed target still fits its image."""

from __future__ import annotations

import torch


COLOURS = [(250, 30, 30), (30, 250, 30), (30, 30, 250)]


def naive_boxes(masks: torch.Tensor) -> list[list[float]]:
    """Extents by looping over rows and columns (x2, y2 exclusive)."""
    boxes = []
    for m in masks.numpy():
        cols = [c for c in range(m.shape[1]) if m[:, c].any()]
        rows = [r for r in range(m.shape[0]) if m[r, :].any()]
        boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
    return boxes


def scene(height=120, width=160, image_id=3):
    """A dark image with a rectangle, a disc and a thin bar in distinct colours."""
    image = torch.full((3, height, width), 10, dtype=torch.uint8)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    masks = torch.stack([
        (xs >= 20) & (xs < 60) & (ys >= 15) & (ys < 45),
        (xs + 0.5 - 110) ** 2 + (ys + 0.5 - 70) ** 2 <= 22 ** 2,
        (xs >= 70) & (xs < 74) & (ys >= 90) & (ys < 118),
    ])
    for mask, colour in zip(masks, COLOURS):
        image[:, mask] = torch.tensor(colour, dtype=torch.uint8)[:, None]
    target = {"boxes": torch.tensor(naive_boxes(masks), dtype=torch.float32),
              "labels": torch.tensor([0, 1, 2]), "masks": masks,
              "ignore_boxes": torch.tensor([[130.0, 5.0, 150.0, 25.0]]), "image_id": image_id}
    return image, target


def check_consistent(image, target, colour_check=True):
    """Boxes equal the masks' extents, inside the canvas, masks on their colour."""
    height, width = image.shape[1:]
    assert target["masks"].shape == (len(target["labels"]), height, width)
    if len(target["labels"]):
        assert target["boxes"].tolist() == naive_boxes(target["masks"])
    if colour_check:
        for mask, label in zip(target["masks"], target["labels"]):
            # Interior pixels (all 8 neighbours in the mask) must show the object's colour;
            # the outline ring mixes with the background when resampled.
            padded = torch.nn.functional.pad(mask[None].float(), (1, 1, 1, 1))
            inner = -torch.nn.functional.max_pool2d(-padded, 3, 1)[0] > 0
            colour = torch.tensor(COLOURS[int(label)])[:, None].float()
            close = (image[:, inner].float() - colour).abs().max(dim=0).values < 40
            assert close.all(), "the mask should sit on its object's pixels"
