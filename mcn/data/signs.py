"""Drawing traffic signs of the Tsinghua-Tencent 100K classes with OpenCV.

The real TT100K images (Zhu et al., "Traffic-Sign Detection and Classification in the
Wild", CVPR 2016) are not available everywhere, so the book trains on synthetic scenes.
This module draws one sign: its outline (disc, triangle, inverted triangle, octagon or
rounded square), its face in the colours of its family, and the pictogram or number
that tells the classes of a family apart (``mcn.data.pictograms``):

* prohibitory (``p*``): white disc, red ring, black pictogram, some crossed by a red
  bar; ``pl*`` carries the speed number, ``ph*`` a height in metres between two
  arrowheads, ``pm*`` a mass in tonnes; ``pr40`` (end of the limit) is a white disc with
  a thin black ring, a grey number and black stripes; ``pne`` a red disc with a white
  bar; ``pn`` a blue disc with a red ring and a red cross; ``pg`` an inverted triangle.
* mandatory / indicative (``i*``): blue disc, white symbol; ``il*`` a white number;
  ``ip`` a blue square with a pedestrian crossing.
* warning (``w*``): yellow triangle, black border, black pictogram.
* ``po``, ``io``, ``wo`` are TT100K's "any other sign of the family"; each gets one fixed
  generic look of its family (no pedestrians, go straight, an exclamation mark).
* ``stop`` (an octagon) is not a TT100K class; the scenes paint it as a look-alike.

Classes of one family differ only by their content (pl50 and pl60 only by the digits),
as in the real data. The pictograms are simplified drawings, not the official ones.

Signs are described in *units* (``mcn.data.sign_shapes``). Each category is drawn once
at ``MASTER_SIZE`` pixels and cached as a pyramid of halvings; a sign of any size and
pose is then resampled from the pyramid level just above the size it needs
(``sign_patch``). Taught in chapter 2.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from mcn.classes import TYPE45
from mcn.data.pictograms import (BLACK, BLUE, GREY, MANDATORY, PROHIBITORY, RED, WARNING, WHITE,
                                 YELLOW, Pen, crossing_sign, give_way, no_entry, no_parking, stop)
from mcn.data.sign_shapes import extent_units, outline_units

#: Long side, in pixels, at which every sign is drawn once before being resampled.
MASTER_SIZE = 384


# ---------------------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------------------

Content = Callable[[Pen], None]


def _prohibitory(pen: Pen, content: Content, bar: bool = False) -> None:
    """White disc with a red ring; ``bar`` adds the red diagonal of 'no ...' signs."""
    pen.disc((0, 0), 1.0, RED)
    pen.disc((0, 0), 0.8, WHITE)
    content(pen)
    if bar:
        pen.line([(-0.58, -0.58), (0.58, 0.58)], 0.14, RED)
    pen.ring((0, 0), 0.895, 0.21, RED)  # drawn last so nothing pokes out of the ring


def _mandatory(pen: Pen, content: Content) -> None:
    pen.disc((0, 0), 1.0, WHITE)
    pen.disc((0, 0), 0.93, BLUE)
    content(pen)


def _warning(pen: Pen, content: Content) -> None:
    polygon, (fx, fy) = outline_units("triangle")
    centre = np.array([fx, fy])
    pen.polygon(polygon, YELLOW)
    pen.polygon((polygon - centre) * 0.9 + centre, BLACK)
    pen.polygon((polygon - centre) * 0.72 + centre, YELLOW)
    content(pen.zoom(fx, fy + 0.07, 0.4))


def _pictogram(draw: Callable, zoom: float, ink, paper) -> Content:
    """A pictogram designed in [-1, 1]^2, drawn at ``zoom`` units around the centre."""
    return lambda pen: draw(pen.zoom(0.0, 0.0, zoom), ink, paper)


def _number(text: str, color, height: float = 0.74) -> Content:
    """A centred number; its width grows with the number of characters."""
    def draw(pen: Pen) -> None:
        width = min(1.2, 0.08 + 0.4 * len(text) - 0.2 * text.count("."))
        pen.text(text, (-width / 2, -height / 2, width / 2, height / 2), color)
    return draw


def _height_limit(text: str) -> Content:
    def draw(pen: Pen) -> None:
        _number(text, BLACK, height=0.5)(pen)
        pen.polygon([(-0.18, -0.66), (0.18, -0.66), (0.0, -0.36)], BLACK)
        pen.polygon([(-0.18, 0.66), (0.18, 0.66), (0.0, 0.36)], BLACK)
    return draw


def _end_of_limit(text: str) -> Content:
    def draw(pen: Pen) -> None:
        pen.disc((0, 0), 1.0, WHITE)
        pen.ring((0, 0), 0.95, 0.1, BLACK)
        _number(text, GREY)(pen)
        for offset in (-0.3, -0.15, 0.0, 0.15, 0.3):  # stripes, bottom-left to top-right
            half = math.sqrt(0.85 ** 2 - offset ** 2)
            centre = np.array([offset, offset]) / math.sqrt(2)
            along = np.array([1.0, -1.0]) / math.sqrt(2)
            pen.line([centre - half * along, centre + half * along], 0.045, BLACK)
    return draw


_NUMBERED = re.compile(r"^(pl|il|ph|pm|pr)(\d+(?:\.\d+)?)$")


def _look(category: str) -> tuple[str, str, Content]:
    """(family, shape, painter) of a category; the painter draws the whole face."""
    if category in PROHIBITORY:
        draw, bar = PROHIBITORY[category]
        # Pictograms are drawn smaller when a bar must cross them.
        content = _pictogram(draw, 0.5 if bar else 0.56, BLACK, WHITE)
        return "prohibitory", "disc", lambda pen: _prohibitory(pen, content, bar)
    if category in MANDATORY:
        content = _pictogram(MANDATORY[category], 0.6, WHITE, BLUE)
        return "mandatory", "disc", lambda pen: _mandatory(pen, content)
    if category in WARNING:
        return "warning", "triangle", lambda pen: _warning(
            pen, lambda p: WARNING[category](p, BLACK, YELLOW))
    fixed = {
        "pn": ("prohibitory", "disc", no_parking),
        "pne": ("prohibitory", "disc", no_entry),
        "pg": ("prohibitory", "inverted_triangle", give_way),
        "ip": ("mandatory", "square", crossing_sign),
        # Not a TT100K class: the scenes use it as an unlabelled look-alike.
        "stop": ("prohibitory", "octagon", stop),
    }
    if category in fixed:
        return fixed[category]
    match = _NUMBERED.match(category)
    if match:
        kind, value = match.groups()
        if kind == "pl":
            return "prohibitory", "disc", lambda pen: _prohibitory(pen, _number(value, BLACK))
        if kind == "il":
            return "mandatory", "disc", lambda pen: _mandatory(pen, _number(value, WHITE))
        if kind == "ph":
            return "prohibitory", "disc", lambda pen: _prohibitory(pen, _height_limit(value + "m"))
        if kind == "pm":
            return "prohibitory", "disc", lambda pen: _prohibitory(
                pen, _number(value + "t", BLACK, height=0.6))
        return "prohibitory", "disc", _end_of_limit(value)
    raise ValueError(
        f"cannot draw traffic-sign category {category!r}: known are the TT100K type45 "
        f"classes ({', '.join(TYPE45)}) and numbered variants such as pl90, il50, ph3.5, "
        f"pm10, pr60"
    )


def is_drawable(category: str) -> bool:
    """True when ``draw_sign`` knows how ``category`` looks."""
    try:
        _look(category)
    except ValueError:
        return False
    return True


def sign_shape(category: str) -> str:
    """The outline of a category: one of ``SHAPES``."""
    return _look(category)[1]


def sign_family(category: str) -> str:
    """"prohibitory", "mandatory" (blue indicative signs) or "warning"."""
    return _look(category)[0]


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------

def _render_master(category: str) -> np.ndarray:
    """The sign at ``MASTER_SIZE``: premultiplied RGBA uint8 (H, W, 4), tight canvas."""
    _, shape, paint = _look(category)
    width_u, height_u = extent_units(shape)
    scale = MASTER_SIZE / 2.0
    height, width = int(math.ceil(height_u * scale)), int(math.ceil(width_u * scale))
    origin = (width / 2.0, height / 2.0)
    rgb = np.zeros((height, width, 3), np.uint8)
    paint(Pen(rgb, origin, scale))
    alpha = np.zeros((height, width), np.uint8)
    polygon, _ = outline_units(shape)
    Pen(alpha, origin, scale).polygon(polygon, 255)
    premultiplied = rgb.astype(np.float32) * (alpha[..., None] / 255.0)
    return np.dstack([premultiplied.round().astype(np.uint8), alpha])


@functools.lru_cache(maxsize=None)
def sign_pyramid(category: str) -> tuple[np.ndarray, ...]:
    """The master rendering and its successive halvings (premultiplied RGBA uint8).

    Resampling a sign from the level just above the wanted size keeps small signs
    anti-aliased (INTER_AREA averages whole source pixels) at a fraction of the cost of
    drawing them anew. Cached per process (about 45 x 0.8 MB for every class).
    """
    levels = [_render_master(category)]
    while min(levels[-1].shape[:2]) >= 16:
        h, w = levels[-1].shape[:2]
        levels.append(cv2.resize(levels[-1], ((w + 1) // 2, (h + 1) // 2),
                                 interpolation=cv2.INTER_AREA))
    return tuple(levels)


def sign_outline(category: str, size: float) -> np.ndarray:
    """The outline polygon (K, 2) float64 of an upright sign whose long side is ``size``
    pixels, in continuous pixel coordinates of its tight canvas (x right, y down)."""
    polygon, _ = outline_units(sign_shape(category))
    width_u, height_u = extent_units(sign_shape(category))
    return (polygon + np.array([width_u, height_u]) / 2) * (size / 2.0)


@dataclass
class SignPatch:
    """A sign rendered into an image region: rows y0:y0+h, columns x0:x0+w.

    ``premultiplied``: float32 (h, w, 3) colour already multiplied by ``alpha``;
    ``alpha``: float32 (h, w) coverage in [0, 1]; ``mask``: bool (h, w), alpha >= 0.5,
    the pixels that belong to the sign; ``outline``: (K, 2) its outline in image pixels.
    """

    x0: int
    y0: int
    premultiplied: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    outline: np.ndarray


def _pose(points: np.ndarray, roll_deg: float, yaw_deg: float, distance: float) -> np.ndarray:
    """Project unit-frame points of a sign turned by ``yaw`` about its vertical axis and
    by ``roll`` in its plane, seen by a pinhole camera ``distance`` units away."""
    yaw, roll = math.radians(yaw_deg), math.radians(roll_deg)
    x, y = points[:, 0] * math.cos(yaw), points[:, 1]
    z = points[:, 0] * math.sin(yaw)  # depth added by the turn
    depth = distance / (distance + z)
    x, y = x * depth, y * depth
    c, s = math.cos(roll), math.sin(roll)
    return np.stack([c * x - s * y, s * x + c * y], axis=1)


def sign_patch(category: str, size: float, centre: tuple[float, float],
               roll_deg: float = 0.0, yaw_deg: float = 0.0,
               distance: float = 8.0) -> SignPatch:
    """Render a posed sign whose outline's long side is ``size`` pixels.

    Args:
        category: a drawable category (see ``is_drawable``).
        size: long side, in pixels, of the posed outline's bounding box (> 0).
        centre: (x, y) of that bounding box's centre in continuous image pixels.
        roll_deg: rotation in the image plane, degrees (clockwise on screen).
        yaw_deg: rotation about the sign's vertical axis, degrees: foreshortens the
            width and, through perspective, makes the far edge shorter.
        distance: camera distance in units (sign half-widths); smaller is stronger
            perspective.
    The patch may extend past the image; the caller clips it.
    """
    if not size > 0:
        raise ValueError(f"sign size must be positive, got {size!r}")
    shape = sign_shape(category)
    polygon, _ = outline_units(shape)
    width_u, height_u = extent_units(shape)
    corners = np.array([[-width_u, -height_u], [width_u, -height_u],
                        [width_u, height_u], [-width_u, height_u]]) / 2
    # Scale the posed outline so that its bounding box's long side is exactly `size`.
    posed = _pose(polygon, roll_deg, yaw_deg, distance)
    low, high = posed.min(axis=0), posed.max(axis=0)
    scale = size / (high - low).max()
    shift = np.asarray(centre, dtype=np.float64) - (low + high) / 2 * scale
    outline = posed * scale + shift
    x0, y0 = np.floor(outline.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + 1

    # Resample the pyramid level just above the wanted size down to about that size
    # (area averaging), then warp it into place with bilinear sampling.
    levels = sign_pyramid(category)
    level = next((lv for lv in reversed(levels) if max(lv.shape[:2]) >= 2 * size), levels[0])
    th = max(2, int(round(height_u * scale)))
    tw = max(2, int(round(width_u * scale)))
    if (th, tw) != level.shape[:2]:
        interp = cv2.INTER_AREA if tw < level.shape[1] else cv2.INTER_LINEAR
        level = cv2.resize(level, (tw, th), interpolation=interp)
    # Template pixel centres (index coordinates) of the four unit-frame corners.
    src = (corners / np.array([width_u, height_u]) + 0.5) * np.array([tw, th]) - 0.5
    dst = _pose(corners, roll_deg, yaw_deg, distance) * scale + shift - [x0 + 0.5, y0 + 0.5]
    homography = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    warped = cv2.warpPerspective(level, homography, (int(x1 - x0), int(y1 - y0)),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=0)
    warped = warped.astype(np.float32) / 255.0
    alpha = warped[..., 3]
    return SignPatch(int(x0), int(y0), warped[..., :3] * 255.0, alpha, alpha >= 0.5, outline)


def draw_sign(category: str, size: int,
              background: tuple[int, int, int] = (255, 255, 255)) -> tuple[np.ndarray, np.ndarray]:
    """Draw one upright sign whose long side is ``size`` pixels.

    Returns (rgb uint8 (H, W, 3), mask bool (H, W)); H, W are the tight extent of the
    outline (H == W for discs, H < W for triangles). Pixels outside the sign show
    ``background``. Raises ValueError for an unknown category or a size below 4.
    """
    if not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"size must be an integer >= 4 pixels, got {size!r}")
    width_u, height_u = extent_units(sign_shape(category))
    height = max(1, int(round(size * height_u / 2)))
    width = max(1, int(round(size * width_u / 2)))
    patch = sign_patch(category, size, (width / 2, height / 2))
    # The patch has a one-pixel margin around the canvas; crop it back to (H, W).
    ox, oy = -patch.x0, -patch.y0
    alpha = patch.alpha[oy:oy + height, ox:ox + width, None]
    colour = patch.premultiplied[oy:oy + height, ox:ox + width]
    rgb = colour + (1 - alpha) * np.asarray(background, np.float32)
    return np.clip(rgb.round(), 0, 255).astype(np.uint8), alpha[..., 0] >= 0.5
