"""Training targets for CornerNet-style detectors: corner heatmaps, offsets, indices, masks.

CornerNet (Law and Deng, ECCV 2018) turns every box into two keypoints, its top-left (TL)
and bottom-right (BR) corner, each drawn on a C-channel heatmap (one channel per class, no
background channel) as an unnormalised Gaussian whose radius depends on the box size.
Mask-CornerNet (Yang, Fan and Guo, EURASIP J. Image Video Process. 2020, sections "Base
framework" and "Mask module") keeps these targets and adds a semantic segmentation
target at half the input resolution, with C + 1 classes (0 is background), for its mask
module.

Coordinates follow ``mcn.corners``: boxes are ``(x1, y1, x2, y2)`` in input pixels with
exclusive right/bottom edges; a corner lands on the cell ``corner_cells`` gives it, and
its flat index into the output map is ``y * w + x`` (``w`` the map width).

Semantic mask target: each instance mask is brought to the mask resolution (stride 2) by a
majority vote over every ``mask_stride x mask_stride`` block (a cell belongs to the object
when at least half of its pixels do), then overlapping instances are resolved in favour of
the *smaller* box: in street scenes the smaller sign is the one in front, and otherwise a
large sign would erase a small one completely. Without instance masks the filled boxes
are used (a cell belongs to a box when its centre lies inside it). Taught in chapter 7.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from mcn.corners import corner_cells

__all__ = [
    "gaussian_radius",
    "gaussian_kernel",
    "draw_gaussian",
    "draw_gaussians",
    "semantic_mask",
    "build_targets",
]


# --------------------------------------------------------------------------- radius
def gaussian_radius(height, width, min_overlap: float = 0.3):
    """Largest corner displacement that keeps a box's IoU with the truth >= ``min_overlap``.

    CornerNet considers three ways of moving the two corners by up to ``r`` (both inwards,
    both outwards, one in and one out), solves a quadratic for each and takes the
    smallest ``r`` (chapter 7 derives the three cases). ``height`` and ``width``
    are the box size on the output map.

    Args:
        height, width: Python numbers, or tensors of the same shape (N,).
        min_overlap: the IoU a box made of displaced corners must still reach.

    Returns:
        ``max(0, floor(min(r1, r2, r3)))``: an ``int`` for numbers, an int64 tensor for
        tensors.
    """
    if not 0.0 < min_overlap < 1.0:
        raise ValueError(f"min_overlap must lie in (0, 1), got {min_overlap}")
    scalar = not (torch.is_tensor(height) or torch.is_tensor(width))
    # float64: the floor of min(r1, r2, r3) must not flip when a root is an integer.
    h = torch.as_tensor(height, dtype=torch.float64)
    w = torch.as_tensor(width, dtype=torch.float64)
    o = min_overlap

    # Case 1: one corner inside the box, the other outside.
    b1 = h + w
    c1 = w * h * (1 - o) / (1 + o)
    r1 = (b1 - torch.sqrt(b1**2 - 4 * c1)) / 2
    # Case 2: both corners inside the box.
    b2 = 2 * (h + w)
    c2 = (1 - o) * w * h
    r2 = (b2 - torch.sqrt(b2**2 - 16 * c2)) / 8
    # Case 3: both corners outside the box.
    a3 = 4 * o
    b3 = -2 * o * (h + w)
    c3 = (o - 1) * w * h
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / (2 * a3)

    radius = torch.minimum(torch.minimum(r1, r2), r3).floor().clamp(min=0).to(torch.int64)
    return int(radius) if scalar else radius


# --------------------------------------------------------------------------- Gaussians
def gaussian_kernel(radius: int, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """The (2r+1, 2r+1) unnormalised Gaussian stamped at every corner.

    sigma = diameter / 6 (a large stamp fades to about 1 % at its edge); the centre is
    exactly 1, which is how the focal loss recognises a positive location.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    sigma = (2 * radius + 1) / 6
    steps = torch.arange(-radius, radius + 1, dtype=torch.float64)  # CPU: float64 anywhere
    squared = steps[:, None] ** 2 + steps[None, :] ** 2
    return torch.exp(-squared / (2 * sigma**2)).to(device=device, dtype=dtype)


def draw_gaussian(heatmap: torch.Tensor, x: int, y: int, radius: int) -> torch.Tensor:
    """Stamp one Gaussian centred on cell (x, y) into ``heatmap`` (h, w), in place.

    The stamp is cut at the map border and merged by element-wise maximum, so
    neighbouring objects keep their own peaks. Returns ``heatmap``. This is the
    one-object version written for reading; :func:`draw_gaussians` does a batch at once.
    """
    height, width = heatmap.shape[-2:]
    kernel = gaussian_kernel(radius, heatmap.dtype, heatmap.device)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    left, right = min(x, radius), min(width - x, radius + 1)
    if top + bottom <= 0 or left + right <= 0:
        return heatmap  # centre too far outside the map to touch it
    region = heatmap[y - top:y + bottom, x - left:x + right]
    patch = kernel[radius - top:radius + bottom, radius - left:radius + right]
    torch.maximum(region, patch, out=region)
    return heatmap


def draw_gaussians(heatmaps: torch.Tensor, batch: torch.Tensor, channel: torch.Tensor,
                   xs: torch.Tensor, ys: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Stamp many Gaussians into ``heatmaps`` (B, C, h, w) in place, merged by maximum.

    Args:
        batch, channel, xs, ys, radii: int64 (N,): image, class channel, cell and radius
            of each stamp (cells must lie on the map).

    Objects are grouped by radius so each group shares one kernel; every group is one
    ``scatter_reduce(amax)`` into the flattened maps, so the cost is a handful of tensor
    operations however many objects there are. Returns ``heatmaps``.
    """
    _, num_channels, height, width = heatmaps.shape
    flat = heatmaps.view(-1)
    for radius in radii.unique().tolist():
        chosen = radii == radius
        kernel = gaussian_kernel(radius, heatmaps.dtype, heatmaps.device).reshape(-1)
        steps = torch.arange(-radius, radius + 1, device=heatmaps.device)
        dy = steps.repeat_interleave(2 * radius + 1)  # kernel rows, matches reshape(-1)
        dx = steps.repeat(2 * radius + 1)
        cell_y = ys[chosen, None] + dy  # (n, (2r+1)^2)
        cell_x = xs[chosen, None] + dx
        on_map = (cell_y >= 0) & (cell_y < height) & (cell_x >= 0) & (cell_x < width)
        plane = batch[chosen, None] * num_channels + channel[chosen, None]
        index = (plane * height + cell_y) * width + cell_x
        values = kernel.expand_as(index)
        flat.scatter_reduce_(0, index[on_map], values[on_map], reduce="amax")
    return heatmaps


# --------------------------------------------------------------------------- masks
def _majority(block: torch.Tensor, stride: int) -> torch.Tensor:
    """(H, W) bool -> (H/s, W/s) bool: a cell is set when at least half its pixels are."""
    height, width = block.shape
    votes = block.reshape(height // stride, stride, width // stride, stride)
    votes = votes.sum(dim=(1, 3), dtype=torch.int32)
    return 2 * votes >= stride * stride


def semantic_mask(boxes: torch.Tensor, labels: torch.Tensor, size: tuple[int, int],
                  stride: int, masks: torch.Tensor | None = None,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """One image's semantic class map at mask resolution.

    Args:
        boxes: (N, 4) boxes in input pixels, clipped to the image (empty boxes paint
            nothing); labels: (N,) int64.
        size: (h, w) of the class map; stride: input pixels per map cell.
        masks: (N, H, W) bool instance masks at the input size, or None for filled boxes
            (a cell is inside a box when its centre is).
        out: optional (h, w) int64 tensor of zeros to paint into (saves a copy when
            filling one slice of a batch).

    Returns:
        (h, w) int64: label + 1 of the smallest box covering the cell, 0 for background.

    Instances are painted from the largest box to the smallest, so the smaller one wins
    where they overlap (between equal areas, the later one). Only the cells under each box are visited (a sign is tiny next
    to the image), which is why this is a loop over objects rather than one operation
    over an (N, h, w) stack. A mask is read inside its box only; the dataset defines
    masks as box AND polygon AND ellipse, so nothing lies outside.
    """
    if out is None:
        out = torch.zeros(size, dtype=torch.int64, device=boxes.device)
    elif tuple(out.shape) != tuple(size):
        raise ValueError(f"semantic_mask: out has shape {tuple(out.shape)}, size is {size}")
    class_map = out
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = torch.argsort(areas, descending=True, stable=True).tolist()
    for i, (x1, y1, x2, y2), label in zip(order, boxes[order].tolist(), labels[order].tolist()):
        if x2 <= x1 or y2 <= y1:
            continue  # an empty box (dropped by build_targets) paints nothing
        if masks is not None:  # every cell the box touches, then a vote inside it
            cx1, cy1 = math.floor(x1 / stride), math.floor(y1 / stride)
            cx2, cy2 = math.ceil(x2 / stride), math.ceil(y2 / stride)
            crop = masks[i, cy1 * stride:cy2 * stride, cx1 * stride:cx2 * stride]
            inside = _majority(crop.to(class_map.device), stride)
            class_map[cy1:cy2, cx1:cx2].masked_fill_(inside, label + 1)
        else:  # cells whose centre (j + 0.5) * stride lies in [x1, x2)
            cx1, cy1 = math.ceil(x1 / stride - 0.5), math.ceil(y1 / stride - 0.5)
            cx2, cy2 = math.ceil(x2 / stride - 0.5), math.ceil(y2 / stride - 0.5)
            class_map[cy1:cy2, cx1:cx2] = label + 1
    return class_map


# --------------------------------------------------------------------------- batch
def _check_target(i: int, target: dict, num_classes: int,
                  input_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor,
                                                        torch.Tensor | None]:
    """Validate one dataset target dict; return (boxes float (N,4), labels, masks|None)."""
    if not isinstance(target, dict) or "boxes" not in target or "labels" not in target:
        raise TypeError(f"targets[{i}] must be a dict with 'boxes' and 'labels' "
                        f"(optionally 'masks'), got {type(target).__name__}")
    boxes = torch.as_tensor(target["boxes"], dtype=torch.float32)
    if boxes.numel() == 0:
        boxes = boxes.reshape(0, 4)  # an image without objects may give shape (0,)
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"targets[{i}]['boxes'] must have shape (N, 4), "
                         f"got {tuple(boxes.shape)}")
    if not torch.isfinite(boxes).all():
        raise ValueError(f"targets[{i}]['boxes'] contains NaN or infinite values")
    labels = torch.as_tensor(target["labels"]).reshape(-1)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"targets[{i}]['labels'] must be integers, got {labels.dtype}")
    if labels.shape[0] != boxes.shape[0]:
        raise ValueError(f"targets[{i}]: {boxes.shape[0]} boxes but {labels.shape[0]} labels")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"targets[{i}]['labels'] must lie in [0, {num_classes}), "
                         f"got values from {int(labels.min())} to {int(labels.max())}")
    masks = target.get("masks")
    if masks is not None:
        masks = torch.as_tensor(masks)
        expected = (boxes.shape[0], *input_size)
        if tuple(masks.shape) != expected:
            raise ValueError(f"targets[{i}]['masks'] must have shape {expected} "
                             f"(N, H, W at the input size), got {tuple(masks.shape)}")
        masks = masks.bool()
    return boxes, labels.to(torch.int64), masks


def build_targets(
    targets: Sequence[dict],
    num_classes: int,
    input_size: tuple[int, int] = (512, 512),
    stride: int = 4,
    mask_stride: int = 2,
    min_overlap: float = 0.3,
    device: torch.device | str | None = None,
) -> dict:
    """Training targets for a batch, built from each image's boxes, labels and masks.

    Args:
        targets: one dataset target dict per image: "boxes" float (N, 4) xyxy in input
            pixels (exclusive right/bottom edge), "labels" int64 (N,) in [0, C), and
            optionally "masks" bool (N, H, W) at the input size. Without "masks" the
            filled boxes serve as masks.
        num_classes: C, the number of heatmap channels.
        input_size: (H, W) of the network input; both multiples of ``stride`` and
            ``mask_stride``.
        stride, mask_stride: output strides of the corner maps (4) and the mask (2).
        min_overlap: IoU used by :func:`gaussian_radius` (0.3 in CornerNet).
        device: where to build the targets (default: CPU).

    Returns:
        dict with, for B images, h = H/stride, w = W/stride and M = the largest number of
        kept objects in any image of the batch (no fixed cap):

        * ``tl_heat``, ``br_heat``: float32 (B, C, h, w) Gaussian corner heatmaps.
        * ``tl_off``, ``br_off``: float32 (B, M, 2) sub-cell offsets (dx, dy).
        * ``tl_idx``, ``br_idx``: int64 (B, M) flat cell index ``y * w + x``.
        * ``valid``: bool (B, M), True for real objects, False for padding.
        * ``labels``: int64 (B, M) class of each object (0 in padding).
        * ``boxes``: float32 (B, M, 4) the clipped boxes that were kept (0 in padding).
        * ``mask``: int64 (B, H/mask_stride, W/mask_stride) semantic classes, 0 background.
        * ``num_dropped``: int, boxes dropped because they had no area after clipping.

    Boxes are clipped to the image first; a box left with zero width or height is
    dropped (and counted), together with its mask.
    """
    if isinstance(targets, dict):
        raise TypeError("targets must be a list of per-image dicts, got a single dict; "
                        "wrap it in a list")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    height, width = (int(v) for v in input_size)
    for name, value in (("stride", stride), ("mask_stride", mask_stride)):
        if value < 1 or height % value or width % value:
            raise ValueError(f"input_size {input_size} must be a multiple of {name}={value}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    out_h, out_w = height // stride, width // stride
    mask_h, mask_w = height // mask_stride, width // mask_stride
    batch_size = len(targets)

    # Per-object geometry (N x 4 numbers) is worked out on the CPU in float64, which every
    # backend supports there; only the large maps are drawn on ``device``.
    cpu = torch.device("cpu")

    # 1. Image by image: validate, clip, paint the class map, drop empty boxes.
    image_limits = torch.tensor([width, height, width, height], dtype=torch.float32)
    kept_boxes, kept_labels = [], []
    mask = torch.zeros(batch_size, mask_h, mask_w, dtype=torch.int64, device=device)
    num_dropped = 0
    for i, target in enumerate(targets):
        boxes, labels, masks = _check_target(i, target, num_classes, (height, width))
        boxes, labels = boxes.to(cpu), labels.to(cpu)
        boxes = torch.minimum(boxes.clamp(min=0), image_limits)  # clip to the image
        # Masks are read box by box in place (no copy of the (N, H, W) stack); empty
        # boxes paint nothing, so the class map can be drawn before dropping them.
        semantic_mask(boxes, labels, (mask_h, mask_w), mask_stride, masks, out=mask[i])
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        num_dropped += int((~keep).sum())
        kept_boxes.append(boxes[keep])
        kept_labels.append(labels[keep])

    # 2. Pad every image to M objects so the batch is one tensor.
    counts = torch.tensor([len(b) for b in kept_boxes], dtype=torch.int64)
    max_objects = int(counts.max()) if batch_size else 0
    boxes = torch.zeros(batch_size, max_objects, 4)
    labels = torch.zeros(batch_size, max_objects, dtype=torch.int64)
    valid = torch.arange(max_objects)[None, :] < counts[:, None]
    for i, (b, l) in enumerate(zip(kept_boxes, kept_labels)):
        boxes[i, :len(b)] = b
        labels[i, :len(l)] = l

    # 3. Corners, offsets and indices of every object at once.
    tl_cell, tl_off, br_cell, br_off = corner_cells(boxes.reshape(-1, 4), stride)
    tl_idx = (tl_cell[:, 1] * out_w + tl_cell[:, 0]).reshape(batch_size, max_objects)
    br_idx = (br_cell[:, 1] * out_w + br_cell[:, 0]).reshape(batch_size, max_objects)
    tl_off = tl_off.reshape(batch_size, max_objects, 2)
    br_off = br_off.reshape(batch_size, max_objects, 2)
    # Padding slots point at cell 0 with zero offset; ``valid`` masks them in the losses.
    tl_idx, br_idx = tl_idx.where(valid, 0), br_idx.where(valid, 0)
    tl_off = tl_off.where(valid[..., None], torch.zeros(()))
    br_off = br_off.where(valid[..., None], torch.zeros(()))

    # 4. Heatmaps: one Gaussian per corner, radius from the box size on the output map
    #    (rounded up to whole cells, as CornerNet does).
    flat_valid = valid.reshape(-1)
    real_boxes = boxes.reshape(-1, 4)[flat_valid]
    box_w = torch.ceil((real_boxes[:, 2] - real_boxes[:, 0]) / stride)
    box_h = torch.ceil((real_boxes[:, 3] - real_boxes[:, 1]) / stride)
    radii = gaussian_radius(box_h, box_w, min_overlap)
    image_of = torch.arange(batch_size).repeat_interleave(max_objects)[flat_valid]
    channel = labels.reshape(-1)[flat_valid]
    tl_heat = torch.zeros(batch_size, num_classes, out_h, out_w, device=device)
    br_heat = torch.zeros(batch_size, num_classes, out_h, out_w, device=device)
    for heat, cell in ((tl_heat, tl_cell[flat_valid]), (br_heat, br_cell[flat_valid])):
        draw_gaussians(heat, image_of.to(device), channel.to(device), cell[:, 0].to(device),
                       cell[:, 1].to(device), radii.to(device))

    tl_off, br_off, tl_idx, br_idx, valid, labels, boxes = (
        t.to(device) for t in (tl_off, br_off, tl_idx, br_idx, valid, labels, boxes))
    return {
        "tl_heat": tl_heat, "br_heat": br_heat,
        "tl_off": tl_off, "br_off": br_off,
        "tl_idx": tl_idx, "br_idx": br_idx,
        "valid": valid, "labels": labels, "boxes": boxes,
        "mask": mask, "num_dropped": num_dropped,
    }
