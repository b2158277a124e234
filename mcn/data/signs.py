"""Drawing traffic signs of the Tsinghua-Tencent 100K classes with OpenCV.

The real TT100K images (Zhu et al., "Traffic-Sign Detection and Classification in the
Wild", CVPR 2016) are not available everywhere, so the book trains on synthetic scenes.
This module draws one sign: its outline (disc, triangle, inverted triangle, octagon or
rounded square), its face in the colours of its family, and the pictogram or number
that tells the classes of a family apart (REFERENCE.md section 8, "Looks"):

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

Signs are described in *units*: the long side of the outline spans 2 units, centred on
the origin, y pointing down. Each category is drawn once at ``MASTER_SIZE`` pixels and
cached as a pyramid of halvings; a sign of any size and pose is then resampled from the
pyramid level just above the size it needs (``sign_patch``).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from mcn.classes import TYPE45

#: Long side, in pixels, at which every sign is drawn once before being resampled.
MASTER_SIZE = 384

# Colours (RGB). Real sign paint, slightly off the saturated extremes.
RED = (200, 28, 38)
BLUE = (18, 72, 168)
YELLOW = (248, 196, 24)
BLACK = (22, 22, 22)
WHITE = (246, 246, 242)
GREY = (105, 105, 105)

SHAPES = ("disc", "triangle", "inverted_triangle", "octagon", "square")

_SHIFT = 4  # cv2 fixed-point bits: coordinates are drawn with 1/16 pixel precision.


# ---------------------------------------------------------------------------------------
# Outlines
# ---------------------------------------------------------------------------------------

def _arc(centre: tuple[float, float], radius: float, start_deg: float, end_deg: float,
         steps: int) -> np.ndarray:
    angles = np.radians(np.linspace(start_deg, end_deg, steps))
    return np.stack([centre[0] + radius * np.cos(angles),
                     centre[1] + radius * np.sin(angles)], axis=1)


def _rounded_triangle(corner_radius: float = 0.12) -> np.ndarray:
    """An upward equilateral triangle with rounded corners, incentre at the origin."""
    circumradius = 1.0
    points = []
    for vertex_deg in (-90.0, 30.0, 150.0):
        # The corner arc's centre lies on the bisector, 2r inside the sharp vertex
        # (distance r / sin(30 deg)); the arc spans the normals of the two edges.
        inner = circumradius - 2.0 * corner_radius
        centre = (inner * math.cos(math.radians(vertex_deg)),
                  inner * math.sin(math.radians(vertex_deg)))
        points.append(_arc(centre, corner_radius, vertex_deg - 60, vertex_deg + 60, 10))
    return np.concatenate(points)


def _rounded_square(corner_radius: float = 0.1) -> np.ndarray:
    c = 1.0 - corner_radius
    corners = [((c, c), 0), ((-c, c), 90), ((-c, -c), 180), ((c, -c), 270)]
    return np.concatenate([_arc(p, corner_radius, a, a + 90, 6) for p, a in corners])


@functools.lru_cache(maxsize=None)
def _outline_units(shape: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The outline polygon (K, 2) in units and the centre of the sign's face.

    The polygon is scaled so that its long side spans exactly 2 units and its extent
    is centred on the origin. The face centre is where pictograms go: the incentre of a
    triangle, the origin otherwise.
    """
    if shape == "disc":
        polygon = _arc((0.0, 0.0), 1.0, 0.0, 360.0, 97)[:-1]
    elif shape == "octagon":
        polygon = _arc((0.0, 0.0), 1.0 / math.cos(math.pi / 8), 22.5, 382.5, 9)[:-1]
    elif shape == "square":
        polygon = _rounded_square()
    elif shape in ("triangle", "inverted_triangle"):
        polygon = _rounded_triangle()
        if shape == "inverted_triangle":
            polygon = polygon * np.array([1.0, -1.0])
    else:
        raise ValueError(f"unknown sign shape {shape!r}; valid shapes: {', '.join(SHAPES)}")
    low, high = polygon.min(axis=0), polygon.max(axis=0)
    middle, scale = (low + high) / 2, 2.0 / (high - low).max()
    polygon = (polygon - middle) * scale
    face_centre = (-middle * scale).tolist()  # the old origin, in the new frame
    return polygon, (face_centre[0], face_centre[1])


def _extent_units(shape: str) -> tuple[float, float]:
    """(width, height) of the outline in units; the long side is 2."""
    polygon, _ = _outline_units(shape)
    size = polygon.max(axis=0) - polygon.min(axis=0)
    return float(size[0]), float(size[1])


# ---------------------------------------------------------------------------------------
# A pen that draws in units
# ---------------------------------------------------------------------------------------

class _Pen:
    """Draws anti-aliased shapes on an RGB canvas in a local unit frame.

    ``origin`` is where the frame's (0, 0) lies, in continuous canvas pixels (pixel
    (i, j) covers [j, j+1) x [i, i+1)); ``scale`` is pixels per unit. ``zoom`` makes a
    sub-frame, so that every pictogram can be designed in the box [-1, 1]^2.
    """

    def __init__(self, canvas: np.ndarray, origin: tuple[float, float], scale: float):
        self.canvas, self.origin, self.scale = canvas, origin, scale

    def zoom(self, cx: float, cy: float, factor: float) -> "_Pen":
        origin = (self.origin[0] + cx * self.scale, self.origin[1] + cy * self.scale)
        return _Pen(self.canvas, origin, self.scale * factor)

    def _fixed(self, points: Sequence[Sequence[float]]) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64) * self.scale + self.origin
        # cv2 puts pixel centres at integer coordinates: shift by half a pixel.
        return np.round((pts - 0.5) * (1 << _SHIFT)).astype(np.int32)

    def _pixels(self, length: float) -> int:
        return max(1, int(round(length * self.scale)))

    def polygon(self, points, color) -> None:
        cv2.fillPoly(self.canvas, [self._fixed(points)], color, cv2.LINE_AA, _SHIFT)

    def line(self, points, width: float, color, closed: bool = False) -> None:
        cv2.polylines(self.canvas, [self._fixed(points)], closed, color,
                      self._pixels(width), cv2.LINE_AA, _SHIFT)

    def disc(self, centre, radius: float, color) -> None:
        cx, cy = self._fixed([centre])[0]
        cv2.circle(self.canvas, (int(cx), int(cy)),
                   int(round(radius * self.scale * (1 << _SHIFT))), color, -1,
                   cv2.LINE_AA, _SHIFT)

    def ring(self, centre, radius: float, width: float, color) -> None:
        """A ring of the given width whose middle line has the given radius."""
        self.line(_arc(centre, radius, 0, 360, 121), width, color, closed=True)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color)

    def text(self, text: str, box: tuple[float, float, float, float], color,
             boldness: float = 0.11) -> None:
        """Text stretched to fill ``box`` (x0, y0, x1, y1 in units).

        cv2 fonts only scale uniformly; sign digits are tall and narrow, so the text is
        rendered large, cropped to its ink, resized to the box and blended in.
        """
        height = 100
        thickness = max(1, int(round(boldness * height)))
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, height / 22, thickness)
        glyphs = np.zeros((2 * height, w + 2 * height), np.uint8)
        cv2.putText(glyphs, text, (height // 2, int(1.5 * height)), cv2.FONT_HERSHEY_DUPLEX,
                    height / 22, 255, thickness, cv2.LINE_AA)
        x, y, w, h = cv2.boundingRect(glyphs)
        glyphs = glyphs[y:y + h, x:x + w]
        (px0, py0), (px1, py1) = (np.asarray([box[:2], box[2:]]) * self.scale
                                  + self.origin).round().astype(int)
        ink = cv2.resize(glyphs, (px1 - px0, py1 - py0), interpolation=cv2.INTER_AREA)
        alpha = ink[..., None].astype(np.float32) / 255.0
        region = self.canvas[py0:py1, px0:px1]
        region[:] = (region * (1 - alpha) + np.asarray(color) * alpha).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------
# Pictograms, each designed in the box [-1, 1]^2; ``ink`` is the symbol colour and
# ``paper`` the face colour (used for windows and wheel hubs).
# ---------------------------------------------------------------------------------------

def _wheel(pen: _Pen, x: float, y: float, r: float, ink, paper) -> None:
    pen.disc((x, y), r, ink)
    pen.disc((x, y), r * 0.4, paper)


def _car(pen: _Pen, ink, paper) -> None:
    pen.polygon([(-0.55, 0.0), (-0.35, -0.42), (0.32, -0.42), (0.6, 0.0)], ink)
    pen.rect(-0.95, -0.02, 0.95, 0.42, ink)
    pen.polygon([(-0.42, -0.04), (-0.28, -0.32), (-0.05, -0.32), (-0.05, -0.04)], paper)
    pen.polygon([(0.05, -0.04), (0.05, -0.32), (0.26, -0.32), (0.46, -0.04)], paper)
    for x in (-0.55, 0.55):
        _wheel(pen, x, 0.45, 0.24, ink, paper)


def _truck(pen: _Pen, ink, paper) -> None:
    pen.rect(-0.95, -0.6, 0.3, 0.3, ink)
    pen.polygon([(0.38, -0.3), (0.72, -0.3), (0.95, 0.02), (0.95, 0.3), (0.38, 0.3)], ink)
    pen.polygon([(0.47, -0.2), (0.68, -0.2), (0.84, 0.02), (0.47, 0.02)], paper)
    for x in (-0.62, -0.22, 0.66):
        _wheel(pen, x, 0.4, 0.2, ink, paper)


def _bus(pen: _Pen, ink, paper) -> None:
    pen.rect(-0.95, -0.5, 0.95, 0.3, ink)
    for x in np.linspace(-0.78, 0.5, 5):
        pen.rect(x, -0.36, x + 0.2, -0.08, paper)
    pen.rect(0.68, -0.36, 0.84, 0.12, paper)  # the door
    for x in (-0.55, 0.5):
        _wheel(pen, x, 0.36, 0.2, ink, paper)


def _bicycle(pen: _Pen, ink, paper) -> None:
    for x in (-0.56, 0.56):
        pen.ring((x, 0.32), 0.36, 0.1, ink)
    hub_rear, hub_front, pedal = (-0.56, 0.32), (0.56, 0.32), (-0.02, 0.32)
    seat, head = (-0.22, -0.3), (0.4, -0.3)
    pen.line([hub_rear, pedal, head, hub_front], 0.09, ink)
    pen.line([hub_rear, seat, pedal], 0.09, ink)
    pen.line([seat, head], 0.09, ink)
    pen.line([(-0.36, -0.36), (-0.1, -0.36)], 0.1, ink)  # saddle
    pen.line([head, (0.34, -0.52), (0.56, -0.52)], 0.09, ink)  # handlebar


def _motorcycle(pen: _Pen, ink, paper) -> None:
    for x in (-0.6, 0.6):
        pen.ring((x, 0.38), 0.28, 0.13, ink)
    pen.polygon([(-0.62, 0.12), (-0.25, -0.2), (0.28, -0.2), (0.5, 0.05), (0.2, 0.3),
                 (-0.3, 0.3)], ink)
    pen.line([(0.3, -0.15), (0.45, -0.55), (0.62, -0.55)], 0.1, ink)
    pen.line([(0.45, -0.4), (0.6, 0.38)], 0.09, ink)  # front fork


def _tricycle(pen: _Pen, ink, paper) -> None:
    pen.rect(-0.95, -0.45, -0.05, 0.15, ink)  # the cargo box
    for x in (-0.72, -0.28):
        _wheel(pen, x, 0.42, 0.2, ink, paper)
    pen.ring((0.6, 0.42), 0.22, 0.08, ink)
    pen.line([(-0.05, 0.05), (0.6, 0.42)], 0.08, ink)
    pen.line([(0.15, 0.15), (0.35, -0.3), (0.55, -0.3)], 0.08, ink)
    pen.disc((0.2, -0.55), 0.13, ink)  # the rider's head
    pen.line([(0.18, -0.4), (0.1, 0.12)], 0.12, ink)


def _horn(pen: _Pen, ink, paper) -> None:
    pen.rect(-0.9, -0.16, -0.55, 0.16, ink)
    pen.polygon([(-0.55, -0.1), (0.1, -0.14), (0.55, -0.55), (0.55, 0.55), (0.1, 0.14),
                 (-0.55, 0.1)], ink)
    for r in (0.28, 0.48):  # the sound
        pen.line(_arc((0.55, 0.0), r, -45, 45, 12), 0.08, ink)


def _arrow(pen: _Pen, points, ink, width: float = 0.3, head: float = 0.5) -> None:
    """A thick polyline ending in a triangular arrowhead at its last point."""
    pts = np.asarray(points, dtype=np.float64)
    tip, before = pts[-1], pts[-2]
    direction = (tip - before) / np.linalg.norm(tip - before)
    normal = np.array([-direction[1], direction[0]])
    base = tip - direction * head * 0.9
    pen.line(np.vstack([pts[:-1], base + direction * 0.05]), width, ink)
    pen.polygon([tip, base + normal * head * 0.6, base - normal * head * 0.6], ink)


def _straight_arrow(pen: _Pen, ink, paper) -> None:
    _arrow(pen, [(0.0, 0.9), (0.0, -0.9)], ink, head=0.65)


def _turn_left(pen: _Pen, ink, paper) -> None:
    _arrow(pen, [(0.35, 0.9), (0.35, -0.2), (-0.9, -0.2)], ink)


def _turn_right(pen: _Pen, ink, paper) -> None:
    _arrow(pen, [(-0.35, 0.9), (-0.35, -0.2), (0.9, -0.2)], ink)


def _u_turn(pen: _Pen, ink, paper) -> None:
    bend = _arc((0.0, -0.25), 0.42, 0, -180, 15)  # over the top, right to left
    _arrow(pen, np.vstack([[(0.42, 0.85)], bend, [(-0.42, 0.45)]]), ink, width=0.24,
           head=0.45)


def _keep_right(pen: _Pen, ink, paper) -> None:
    _arrow(pen, [(-0.65, -0.65), (0.7, 0.7)], ink, head=0.65)


def _pedestrian(pen: _Pen, ink, paper) -> None:
    pen.disc((0.08, -0.74), 0.17, ink)
    pen.line([(0.04, -0.5), (-0.04, 0.12)], 0.22, ink)  # torso
    pen.line([(-0.04, 0.12), (-0.38, 0.5), (-0.48, 0.9)], 0.15, ink)
    pen.line([(-0.04, 0.12), (0.26, 0.52), (0.4, 0.9)], 0.15, ink)
    pen.line([(0.02, -0.4), (-0.32, -0.05)], 0.13, ink)
    pen.line([(0.04, -0.4), (0.36, -0.08)], 0.13, ink)


def _children(pen: _Pen, ink, paper) -> None:
    _pedestrian(pen.zoom(-0.42, 0.1, 0.85), ink, paper)
    _pedestrian(pen.zoom(0.45, 0.25, 0.72), ink, paper)


def _crossroads(pen: _Pen, ink, paper) -> None:
    pen.line([(0.0, -0.95), (0.0, 0.95)], 0.3, ink)
    pen.line([(-0.95, 0.0), (0.95, 0.0)], 0.3, ink)


def _merge(pen: _Pen, ink, paper) -> None:
    pen.line([(0.25, -0.95), (0.25, 0.95)], 0.3, ink)
    pen.line([(-0.65, 0.95), (-0.65, 0.55), (0.2, -0.25)], 0.22, ink)


def _road_works(pen: _Pen, ink, paper) -> None:
    pen.polygon([(0.15, 0.92), (0.55, 0.4), (0.95, 0.92)], ink)  # the heap
    pen.disc((-0.42, -0.62), 0.16, ink)
    pen.line([(-0.38, -0.42), (-0.08, 0.18)], 0.2, ink)
    pen.line([(-0.08, 0.18), (-0.38, 0.92)], 0.14, ink)
    pen.line([(-0.08, 0.18), (0.12, 0.92)], 0.14, ink)
    pen.line([(-0.3, -0.25), (0.35, 0.3)], 0.08, ink)  # the shovel
    pen.polygon([(0.28, 0.22), (0.5, 0.3), (0.4, 0.48)], ink)


def _exclamation(pen: _Pen, ink, paper) -> None:
    pen.polygon([(-0.16, -0.85), (0.16, -0.85), (0.08, 0.35), (-0.08, 0.35)], ink)
    pen.disc((0.0, 0.7), 0.16, ink)


def _flame(pen: _Pen, ink, paper) -> None:
    pen.polygon([(0.0, -0.95), (0.3, -0.45), (0.55, 0.05), (0.5, 0.55), (0.2, 0.85),
                 (-0.2, 0.85), (-0.5, 0.55), (-0.55, 0.1), (-0.3, -0.25), (-0.15, 0.05),
                 (-0.05, -0.4)], ink)
    pen.polygon([(0.0, 0.0), (0.22, 0.4), (0.12, 0.7), (-0.12, 0.7), (-0.22, 0.4)], paper)


def _yield_glyph(pen: _Pen, ink, paper) -> None:
    """Strokes standing in for the character on China's give-way sign."""
    pen.line([(-0.75, -0.85), (-0.5, -0.6)], 0.16, ink)
    pen.line([(-0.8, -0.2), (-0.5, -0.2), (-0.5, 0.6), (-0.8, 0.9)], 0.14, ink)
    pen.line([(0.3, -0.95), (0.3, 0.5)], 0.16, ink)
    pen.line([(0.3, -0.25), (0.8, -0.25)], 0.14, ink)
    pen.line([(-0.15, 0.55), (0.95, 0.55)], 0.16, ink)


def _crossing(pen: _Pen, ink, paper) -> None:
    """The content of ``ip``: a white triangle with a walker over zebra stripes."""
    pen.polygon([(0.0, -0.92), (0.9, 0.75), (-0.9, 0.75)], WHITE)
    for x in (-0.42, -0.14, 0.14, 0.42):
        pen.rect(x - 0.08, 0.5, x + 0.08, 0.68, BLACK)
    _pedestrian(pen.zoom(0.0, -0.05, 0.5), BLACK, WHITE)


# ---------------------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------------------

Content = Callable[[_Pen], None]


def _prohibitory(pen: _Pen, content: Content, bar: bool = False) -> None:
    """White disc with a red ring; ``bar`` adds the red diagonal of 'no ...' signs."""
    pen.disc((0, 0), 1.0, RED)
    pen.disc((0, 0), 0.8, WHITE)
    content(pen)
    if bar:
        pen.line([(-0.58, -0.58), (0.58, 0.58)], 0.14, RED)
    pen.ring((0, 0), 0.895, 0.21, RED)  # drawn last so nothing pokes out of the ring


def _mandatory(pen: _Pen, content: Content) -> None:
    pen.disc((0, 0), 1.0, WHITE)
    pen.disc((0, 0), 0.93, BLUE)
    content(pen)


def _warning(pen: _Pen, content: Content) -> None:
    polygon, (fx, fy) = _outline_units("triangle")
    centre = np.array([fx, fy])
    pen.polygon(polygon, YELLOW)
    pen.polygon((polygon - centre) * 0.9 + centre, BLACK)
    pen.polygon((polygon - centre) * 0.72 + centre, YELLOW)
    content(pen.zoom(fx, fy + 0.07, 0.4))


def _give_way(pen: _Pen) -> None:
    polygon, (fx, fy) = _outline_units("inverted_triangle")
    centre = np.array([fx, fy])
    pen.polygon(polygon, RED)
    pen.polygon((polygon - centre) * 0.68 + centre, WHITE)
    _yield_glyph(pen.zoom(fx, fy - 0.02, 0.3), BLACK, WHITE)


def _pictogram(draw: Callable, zoom: float, ink, paper) -> Content:
    """A pictogram designed in [-1, 1]^2, drawn at ``zoom`` units around the centre."""
    return lambda pen: draw(pen.zoom(0.0, 0.0, zoom), ink, paper)


def _number(text: str, color, height: float = 0.74) -> Content:
    """A centred number; its width grows with the number of characters."""
    def draw(pen: _Pen) -> None:
        width = min(1.2, 0.08 + 0.4 * len(text) - 0.2 * text.count("."))
        pen.text(text, (-width / 2, -height / 2, width / 2, height / 2), color)
    return draw


def _height_limit(text: str) -> Content:
    def draw(pen: _Pen) -> None:
        _number(text, BLACK, height=0.5)(pen)
        pen.polygon([(-0.18, -0.66), (0.18, -0.66), (0.0, -0.36)], BLACK)
        pen.polygon([(-0.18, 0.66), (0.18, 0.66), (0.0, 0.36)], BLACK)
    return draw


def _end_of_limit(text: str) -> Content:
    def draw(pen: _Pen) -> None:
        pen.disc((0, 0), 1.0, WHITE)
        pen.ring((0, 0), 0.95, 0.1, BLACK)
        _number(text, GREY)(pen)
        for offset in (-0.3, -0.15, 0.0, 0.15, 0.3):  # stripes, bottom-left to top-right
            half = math.sqrt(0.85 ** 2 - offset ** 2)
            centre = np.array([offset, offset]) / math.sqrt(2)
            along = np.array([1.0, -1.0]) / math.sqrt(2)
            pen.line([centre - half * along, centre + half * along], 0.045, BLACK)
    return draw


def _no_parking(pen: _Pen) -> None:
    pen.disc((0, 0), 1.0, RED)
    pen.disc((0, 0), 0.8, BLUE)
    pen.line([(-0.58, -0.58), (0.58, 0.58)], 0.15, RED)
    pen.line([(-0.58, 0.58), (0.58, -0.58)], 0.15, RED)
    pen.ring((0, 0), 0.895, 0.21, RED)


def _no_entry(pen: _Pen) -> None:
    pen.disc((0, 0), 1.0, RED)
    pen.rect(-0.68, -0.17, 0.68, 0.17, WHITE)


def _stop(pen: _Pen) -> None:
    polygon, _ = _outline_units("octagon")
    pen.polygon(polygon, WHITE)
    pen.polygon(polygon * 0.9, RED)
    pen.text("STOP", (-0.62, -0.24, 0.62, 0.24), WHITE, boldness=0.12)


def _crossing_sign(pen: _Pen) -> None:
    polygon, _ = _outline_units("square")
    pen.polygon(polygon, WHITE)
    pen.polygon(polygon * 0.93, BLUE)
    _crossing(pen.zoom(0.0, 0.0, 0.82), WHITE, BLUE)


# Prohibitory pictograms: category -> (pictogram, crossed by the red bar).
_PROHIBITORY = {
    "p3": (_bus, True), "p5": (_u_turn, True), "p6": (_tricycle, True),
    "p10": (_car, False), "p11": (_horn, True), "p12": (_motorcycle, True),
    "p19": (_turn_right, True), "p23": (_turn_left, True), "p26": (_truck, False),
    "p27": (_flame, True), "po": (_pedestrian, True),
}
# Mandatory / indicative pictograms (white on blue).
_MANDATORY = {"i2": _bicycle, "i4": _car, "i5": _keep_right, "io": _straight_arrow}
# Warning pictograms (black on yellow).
_WARNING = {"w13": _crossroads, "w32": _road_works, "w55": _children,
            "w57": _pedestrian, "w59": _merge, "wo": _exclamation}

_NUMBERED = re.compile(r"^(pl|il|ph|pm|pr)(\d+(?:\.\d+)?)$")


def _look(category: str) -> tuple[str, str, Content]:
    """(family, shape, painter) of a category; the painter draws the whole face."""
    if category in _PROHIBITORY:
        draw, bar = _PROHIBITORY[category]
        # Pictograms are drawn smaller when a bar must cross them.
        content = _pictogram(draw, 0.5 if bar else 0.56, BLACK, WHITE)
        return "prohibitory", "disc", lambda pen: _prohibitory(pen, content, bar)
    if category in _MANDATORY:
        content = _pictogram(_MANDATORY[category], 0.6, WHITE, BLUE)
        return "mandatory", "disc", lambda pen: _mandatory(pen, content)
    if category in _WARNING:
        return "warning", "triangle", lambda pen: _warning(
            pen, lambda p: _WARNING[category](p, BLACK, YELLOW))
    fixed = {
        "pn": ("prohibitory", "disc", _no_parking),
        "pne": ("prohibitory", "disc", _no_entry),
        "pg": ("prohibitory", "inverted_triangle", _give_way),
        "ip": ("mandatory", "square", _crossing_sign),
        # Not a TT100K class: the scenes use it as an unlabelled look-alike.
        "stop": ("prohibitory", "octagon", _stop),
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
    width_u, height_u = _extent_units(shape)
    scale = MASTER_SIZE / 2.0
    height, width = int(math.ceil(height_u * scale)), int(math.ceil(width_u * scale))
    origin = (width / 2.0, height / 2.0)
    rgb = np.zeros((height, width, 3), np.uint8)
    paint(_Pen(rgb, origin, scale))
    alpha = np.zeros((height, width), np.uint8)
    polygon, _ = _outline_units(shape)
    _Pen(alpha, origin, scale).polygon(polygon, 255)
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
    polygon, _ = _outline_units(sign_shape(category))
    width_u, height_u = _extent_units(sign_shape(category))
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
    polygon, _ = _outline_units(shape)
    width_u, height_u = _extent_units(shape)
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
    width_u, height_u = _extent_units(sign_shape(category))
    height = max(1, int(round(size * height_u / 2)))
    width = max(1, int(round(size * width_u / 2)))
    patch = sign_patch(category, size, (width / 2, height / 2))
    # The patch has a one-pixel margin around the canvas; crop it back to (H, W).
    ox, oy = -patch.x0, -patch.y0
    alpha = patch.alpha[oy:oy + height, ox:ox + width, None]
    colour = patch.premultiplied[oy:oy + height, ox:ox + width]
    rgb = colour + (1 - alpha) * np.asarray(background, np.float32)
    return np.clip(rgb.round(), 0, 255).astype(np.uint8), alpha[..., 0] >= 0.5
