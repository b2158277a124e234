"""The outlines of traffic signs: disc, triangle, inverted triangle, octagon, rounded square.

The signs of Tsinghua-Tencent 100K (Zhu et al., CVPR 2016), the data set of the
Mask-CornerNet paper (Yang, Fan and Guo 2020), come in these five shapes. Signs are
described in *units*: the long side of the outline spans 2 units, centred on the origin,
y pointing down. Taught in chapter 2.
"""

from __future__ import annotations

import functools
import math

import numpy as np

SHAPES = ("disc", "triangle", "inverted_triangle", "octagon", "square")


def arc(centre: tuple[float, float], radius: float, start_deg: float, end_deg: float,
        steps: int) -> np.ndarray:
    """``steps`` points (steps, 2) of a circular arc, angles in degrees."""
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
        points.append(arc(centre, corner_radius, vertex_deg - 60, vertex_deg + 60, 10))
    return np.concatenate(points)


def _rounded_square(corner_radius: float = 0.1) -> np.ndarray:
    c = 1.0 - corner_radius
    corners = [((c, c), 0), ((-c, c), 90), ((-c, -c), 180), ((c, -c), 270)]
    return np.concatenate([arc(p, corner_radius, a, a + 90, 6) for p, a in corners])


@functools.lru_cache(maxsize=None)
def outline_units(shape: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The outline polygon (K, 2) in units and the centre of the sign's face.

    The polygon is scaled so that its long side spans exactly 2 units and its extent
    is centred on the origin. The face centre is where pictograms go: the incentre of a
    triangle, the origin otherwise.
    """
    if shape == "disc":
        polygon = arc((0.0, 0.0), 1.0, 0.0, 360.0, 97)[:-1]
    elif shape == "octagon":
        polygon = arc((0.0, 0.0), 1.0 / math.cos(math.pi / 8), 22.5, 382.5, 9)[:-1]
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


def extent_units(shape: str) -> tuple[float, float]:
    """(width, height) of the outline in units; the long side is 2."""
    polygon, _ = outline_units(shape)
    size = polygon.max(axis=0) - polygon.min(axis=0)
    return float(size[0]), float(size[1])
