"""Drawing traffic-sign faces with OpenCV: a pen that draws in sign units, the colours of
real sign paint, and the pictograms that tell the classes of a family apart.

The real TT100K images (Zhu et al., CVPR 2016) are not available everywhere, so the book
trains on synthetic signs. The pictograms are simplified drawings, not the official
ones; each is designed in the box [-1, 1]^2, ``ink`` being the symbol colour and
``paper`` the face colour. Taught in chapter 2.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from mcn.data.sign_shapes import arc, outline_units

# Colours (RGB). Real sign paint, slightly off the saturated extremes.
RED = (200, 28, 38)
BLUE = (18, 72, 168)
YELLOW = (248, 196, 24)
BLACK = (22, 22, 22)
WHITE = (246, 246, 242)
GREY = (105, 105, 105)

SHIFT = 4  # cv2 fixed-point bits: coordinates are drawn with 1/16 pixel precision.


class Pen:
    """Draws anti-aliased shapes on an RGB canvas in a local unit frame.

    ``origin`` is where the frame's (0, 0) lies, in continuous canvas pixels (pixel
    (i, j) covers [j, j+1) x [i, i+1)); ``scale`` is pixels per unit. ``zoom`` makes a
    sub-frame, so that every pictogram can be designed in the box [-1, 1]^2.
    """

    def __init__(self, canvas: np.ndarray, origin: tuple[float, float], scale: float):
        self.canvas, self.origin, self.scale = canvas, origin, scale

    def zoom(self, cx: float, cy: float, factor: float) -> "Pen":
        origin = (self.origin[0] + cx * self.scale, self.origin[1] + cy * self.scale)
        return Pen(self.canvas, origin, self.scale * factor)

    def _fixed(self, points: Sequence[Sequence[float]]) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64) * self.scale + self.origin
        # cv2 puts pixel centres at integer coordinates: shift by half a pixel.
        return np.round((pts - 0.5) * (1 << SHIFT)).astype(np.int32)

    def _pixels(self, length: float) -> int:
        return max(1, int(round(length * self.scale)))

    def polygon(self, points, color) -> None:
        cv2.fillPoly(self.canvas, [self._fixed(points)], color, cv2.LINE_AA, SHIFT)

    def line(self, points, width: float, color, closed: bool = False) -> None:
        cv2.polylines(self.canvas, [self._fixed(points)], closed, color,
                      self._pixels(width), cv2.LINE_AA, SHIFT)

    def disc(self, centre, radius: float, color) -> None:
        cx, cy = self._fixed([centre])[0]
        cv2.circle(self.canvas, (int(cx), int(cy)),
                   int(round(radius * self.scale * (1 << SHIFT))), color, -1,
                   cv2.LINE_AA, SHIFT)

    def ring(self, centre, radius: float, width: float, color) -> None:
        """A ring of the given width whose middle line has the given radius."""
        self.line(arc(centre, radius, 0, 360, 121), width, color, closed=True)

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


def _wheel(pen: Pen, x: float, y: float, r: float, ink, paper) -> None:
    pen.disc((x, y), r, ink)
    pen.disc((x, y), r * 0.4, paper)


def _car(pen: Pen, ink, paper) -> None:
    pen.polygon([(-0.55, 0.0), (-0.35, -0.42), (0.32, -0.42), (0.6, 0.0)], ink)
    pen.rect(-0.95, -0.02, 0.95, 0.42, ink)
    pen.polygon([(-0.42, -0.04), (-0.28, -0.32), (-0.05, -0.32), (-0.05, -0.04)], paper)
    pen.polygon([(0.05, -0.04), (0.05, -0.32), (0.26, -0.32), (0.46, -0.04)], paper)
    for x in (-0.55, 0.55):
        _wheel(pen, x, 0.45, 0.24, ink, paper)


def _truck(pen: Pen, ink, paper) -> None:
    pen.rect(-0.95, -0.6, 0.3, 0.3, ink)
    pen.polygon([(0.38, -0.3), (0.72, -0.3), (0.95, 0.02), (0.95, 0.3), (0.38, 0.3)], ink)
    pen.polygon([(0.47, -0.2), (0.68, -0.2), (0.84, 0.02), (0.47, 0.02)], paper)
    for x in (-0.62, -0.22, 0.66):
        _wheel(pen, x, 0.4, 0.2, ink, paper)


def _bus(pen: Pen, ink, paper) -> None:
    pen.rect(-0.95, -0.5, 0.95, 0.3, ink)
    for x in np.linspace(-0.78, 0.5, 5):
        pen.rect(x, -0.36, x + 0.2, -0.08, paper)
    pen.rect(0.68, -0.36, 0.84, 0.12, paper)  # the door
    for x in (-0.55, 0.5):
        _wheel(pen, x, 0.36, 0.2, ink, paper)


def _bicycle(pen: Pen, ink, paper) -> None:
    for x in (-0.56, 0.56):
        pen.ring((x, 0.32), 0.36, 0.1, ink)
    hub_rear, hub_front, pedal = (-0.56, 0.32), (0.56, 0.32), (-0.02, 0.32)
    seat, head = (-0.22, -0.3), (0.4, -0.3)
    pen.line([hub_rear, pedal, head, hub_front], 0.09, ink)
    pen.line([hub_rear, seat, pedal], 0.09, ink)
    pen.line([seat, head], 0.09, ink)
    pen.line([(-0.36, -0.36), (-0.1, -0.36)], 0.1, ink)  # saddle
    pen.line([head, (0.34, -0.52), (0.56, -0.52)], 0.09, ink)  # handlebar


def _motorcycle(pen: Pen, ink, paper) -> None:
    for x in (-0.6, 0.6):
        pen.ring((x, 0.38), 0.28, 0.13, ink)
    pen.polygon([(-0.62, 0.12), (-0.25, -0.2), (0.28, -0.2), (0.5, 0.05), (0.2, 0.3),
                 (-0.3, 0.3)], ink)
    pen.line([(0.3, -0.15), (0.45, -0.55), (0.62, -0.55)], 0.1, ink)
    pen.line([(0.45, -0.4), (0.6, 0.38)], 0.09, ink)  # front fork


def _tricycle(pen: Pen, ink, paper) -> None:
    pen.rect(-0.95, -0.45, -0.05, 0.15, ink)  # the cargo box
    for x in (-0.72, -0.28):
        _wheel(pen, x, 0.42, 0.2, ink, paper)
    pen.ring((0.6, 0.42), 0.22, 0.08, ink)
    pen.line([(-0.05, 0.05), (0.6, 0.42)], 0.08, ink)
    pen.line([(0.15, 0.15), (0.35, -0.3), (0.55, -0.3)], 0.08, ink)
    pen.disc((0.2, -0.55), 0.13, ink)  # the rider's head
    pen.line([(0.18, -0.4), (0.1, 0.12)], 0.12, ink)


def _horn(pen: Pen, ink, paper) -> None:
    pen.rect(-0.9, -0.16, -0.55, 0.16, ink)
    pen.polygon([(-0.55, -0.1), (0.1, -0.14), (0.55, -0.55), (0.55, 0.55), (0.1, 0.14),
                 (-0.55, 0.1)], ink)
    for r in (0.28, 0.48):  # the sound
        pen.line(arc((0.55, 0.0), r, -45, 45, 12), 0.08, ink)


def _arrow(pen: Pen, points, ink, width: float = 0.3, head: float = 0.5) -> None:
    """A thick polyline ending in a triangular arrowhead at its last point."""
    pts = np.asarray(points, dtype=np.float64)
    tip, before = pts[-1], pts[-2]
    direction = (tip - before) / np.linalg.norm(tip - before)
    normal = np.array([-direction[1], direction[0]])
    base = tip - direction * head * 0.9
    pen.line(np.vstack([pts[:-1], base + direction * 0.05]), width, ink)
    pen.polygon([tip, base + normal * head * 0.6, base - normal * head * 0.6], ink)


def _straight_arrow(pen: Pen, ink, paper) -> None:
    _arrow(pen, [(0.0, 0.9), (0.0, -0.9)], ink, head=0.65)


def _turn_left(pen: Pen, ink, paper) -> None:
    _arrow(pen, [(0.35, 0.9), (0.35, -0.2), (-0.9, -0.2)], ink)


def _turn_right(pen: Pen, ink, paper) -> None:
    _arrow(pen, [(-0.35, 0.9), (-0.35, -0.2), (0.9, -0.2)], ink)


def _u_turn(pen: Pen, ink, paper) -> None:
    bend = arc((0.0, -0.25), 0.42, 0, -180, 15)  # over the top, right to left
    _arrow(pen, np.vstack([[(0.42, 0.85)], bend, [(-0.42, 0.45)]]), ink, width=0.24,
           head=0.45)


def _keep_right(pen: Pen, ink, paper) -> None:
    _arrow(pen, [(-0.65, -0.65), (0.7, 0.7)], ink, head=0.65)


def _pedestrian(pen: Pen, ink, paper) -> None:
    pen.disc((0.08, -0.74), 0.17, ink)
    pen.line([(0.04, -0.5), (-0.04, 0.12)], 0.22, ink)  # torso
    pen.line([(-0.04, 0.12), (-0.38, 0.5), (-0.48, 0.9)], 0.15, ink)
    pen.line([(-0.04, 0.12), (0.26, 0.52), (0.4, 0.9)], 0.15, ink)
    pen.line([(0.02, -0.4), (-0.32, -0.05)], 0.13, ink)
    pen.line([(0.04, -0.4), (0.36, -0.08)], 0.13, ink)


def _children(pen: Pen, ink, paper) -> None:
    _pedestrian(pen.zoom(-0.42, 0.1, 0.85), ink, paper)
    _pedestrian(pen.zoom(0.45, 0.25, 0.72), ink, paper)


def _crossroads(pen: Pen, ink, paper) -> None:
    pen.line([(0.0, -0.95), (0.0, 0.95)], 0.3, ink)
    pen.line([(-0.95, 0.0), (0.95, 0.0)], 0.3, ink)


def _merge(pen: Pen, ink, paper) -> None:
    pen.line([(0.25, -0.95), (0.25, 0.95)], 0.3, ink)
    pen.line([(-0.65, 0.95), (-0.65, 0.55), (0.2, -0.25)], 0.22, ink)


def _road_works(pen: Pen, ink, paper) -> None:
    pen.polygon([(0.15, 0.92), (0.55, 0.4), (0.95, 0.92)], ink)  # the heap
    pen.disc((-0.42, -0.62), 0.16, ink)
    pen.line([(-0.38, -0.42), (-0.08, 0.18)], 0.2, ink)
    pen.line([(-0.08, 0.18), (-0.38, 0.92)], 0.14, ink)
    pen.line([(-0.08, 0.18), (0.12, 0.92)], 0.14, ink)
    pen.line([(-0.3, -0.25), (0.35, 0.3)], 0.08, ink)  # the shovel
    pen.polygon([(0.28, 0.22), (0.5, 0.3), (0.4, 0.48)], ink)


def _exclamation(pen: Pen, ink, paper) -> None:
    pen.polygon([(-0.16, -0.85), (0.16, -0.85), (0.08, 0.35), (-0.08, 0.35)], ink)
    pen.disc((0.0, 0.7), 0.16, ink)


def _flame(pen: Pen, ink, paper) -> None:
    pen.polygon([(0.0, -0.95), (0.3, -0.45), (0.55, 0.05), (0.5, 0.55), (0.2, 0.85),
                 (-0.2, 0.85), (-0.5, 0.55), (-0.55, 0.1), (-0.3, -0.25), (-0.15, 0.05),
                 (-0.05, -0.4)], ink)
    pen.polygon([(0.0, 0.0), (0.22, 0.4), (0.12, 0.7), (-0.12, 0.7), (-0.22, 0.4)], paper)


def _yield_glyph(pen: Pen, ink, paper) -> None:
    """Strokes standing in for the character on China's give-way sign."""
    pen.line([(-0.75, -0.85), (-0.5, -0.6)], 0.16, ink)
    pen.line([(-0.8, -0.2), (-0.5, -0.2), (-0.5, 0.6), (-0.8, 0.9)], 0.14, ink)
    pen.line([(0.3, -0.95), (0.3, 0.5)], 0.16, ink)
    pen.line([(0.3, -0.25), (0.8, -0.25)], 0.14, ink)
    pen.line([(-0.15, 0.55), (0.95, 0.55)], 0.16, ink)


def _crossing(pen: Pen, ink, paper) -> None:
    """The content of ``ip``: a white triangle with a walker over zebra stripes."""
    pen.polygon([(0.0, -0.92), (0.9, 0.75), (-0.9, 0.75)], WHITE)
    for x in (-0.42, -0.14, 0.14, 0.42):
        pen.rect(x - 0.08, 0.5, x + 0.08, 0.68, BLACK)
    _pedestrian(pen.zoom(0.0, -0.05, 0.5), BLACK, WHITE)


# ---------------------------------------------------------------------------------------
# Whole faces that follow no family's pattern
# ---------------------------------------------------------------------------------------

def no_parking(pen: Pen) -> None:
    """pn: blue disc, red ring, red cross."""
    pen.disc((0, 0), 1.0, RED)
    pen.disc((0, 0), 0.8, BLUE)
    pen.line([(-0.58, -0.58), (0.58, 0.58)], 0.15, RED)
    pen.line([(-0.58, 0.58), (0.58, -0.58)], 0.15, RED)
    pen.ring((0, 0), 0.895, 0.21, RED)


def no_entry(pen: Pen) -> None:
    """pne: red disc with a white bar."""
    pen.disc((0, 0), 1.0, RED)
    pen.rect(-0.68, -0.17, 0.68, 0.17, WHITE)


def stop(pen: Pen) -> None:
    """The stop sign (not a TT100K class): a red octagon with STOP."""
    polygon, _ = outline_units("octagon")
    pen.polygon(polygon, WHITE)
    pen.polygon(polygon * 0.9, RED)
    pen.text("STOP", (-0.62, -0.24, 0.62, 0.24), WHITE, boldness=0.12)


def give_way(pen: Pen) -> None:
    """pg: red-rimmed inverted triangle with the yield glyph."""
    polygon, (fx, fy) = outline_units("inverted_triangle")
    centre = np.array([fx, fy])
    pen.polygon(polygon, RED)
    pen.polygon((polygon - centre) * 0.68 + centre, WHITE)
    _yield_glyph(pen.zoom(fx, fy - 0.02, 0.3), BLACK, WHITE)


def crossing_sign(pen: Pen) -> None:
    """ip: blue square with a pedestrian crossing."""
    polygon, _ = outline_units("square")
    pen.polygon(polygon, WHITE)
    pen.polygon(polygon * 0.93, BLUE)
    _crossing(pen.zoom(0.0, 0.0, 0.82), WHITE, BLUE)


# Prohibitory pictograms: category -> (pictogram, crossed by the red bar).
PROHIBITORY = {
    "p3": (_bus, True), "p5": (_u_turn, True), "p6": (_tricycle, True),
    "p10": (_car, False), "p11": (_horn, True), "p12": (_motorcycle, True),
    "p19": (_turn_right, True), "p23": (_turn_left, True), "p26": (_truck, False),
    "p27": (_flame, True), "po": (_pedestrian, True),
}
# Mandatory / indicative pictograms (white on blue).
MANDATORY = {"i2": _bicycle, "i4": _car, "i5": _keep_right, "io": _straight_arrow}
# Warning pictograms (black on yellow).
WARNING = {"w13": _crossroads, "w32": _road_works, "w55": _children,
            "w57": _pedestrian, "w59": _merge, "wo": _exclamation}
