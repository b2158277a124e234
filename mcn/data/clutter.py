"""What a synthetic street holds besides its background: signs blended in on their poles,
sign-like distractors that carry no label, and occluders in front of signs.

The stand-in for Tsinghua-Tencent 100K (Zhu et al., CVPR 2016) needs what makes its
street views hard: things that look like signs but are not (red discs, blue and green
boards, signs of classes outside the catalogue, traffic lights, sign backs) and objects
in front of the signs. Occluders are built in a local canvas, so that the scene composer
(``mcn.data.synthetic``) can check how much of each sign they would hide before
painting them. Every function takes a ``numpy.random.Generator``. Taught in chapter 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Collection, Sequence

import cv2
import numpy as np

from mcn.data import signs
from mcn.data.scenes import CAR_COLOURS, FACADES, GREENS, POLE_COLOURS, pick

# ---------------------------------------------------------------------------------------
# Distractors: sign-like things that carry no label.
# ---------------------------------------------------------------------------------------

#: Categories outside the TT100K type45 list, painted as unlabelled look-alikes.
OUTSIDE_CATALOGUE = ("pl15", "pl90", "il50", "ph3.5", "pm10", "pr60")


def _board(image, rng, x, y, size, colour) -> None:
    """A guide board or shop sign: a rectangle with a white rim and rows of white text."""
    w = int(size * rng.uniform(1.2, 3.0))
    h = int(size * rng.uniform(0.5, 1.0))
    cv2.rectangle(image, (x - w // 2, y - h // 2), (x + w // 2, y + h // 2), colour, -1)
    cv2.rectangle(image, (x - w // 2, y - h // 2), (x + w // 2, y + h // 2), (235, 235, 235),
                  max(1, int(size * 0.04)))
    rows = int(rng.integers(1, 4))
    row_height = h / rows
    for r in range(rows):
        letters = "".join(chr(c) for c in rng.integers(65, 91, int(rng.integers(3, 9))))
        scale = row_height * 0.5 / 22  # Hershey glyphs are about 22 units tall
        if scale < 0.1:
            continue
        thickness = max(1, int(row_height * 0.08))
        (tw, _), _ = cv2.getTextSize(letters, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        scale *= min(1.0, 0.85 * w / max(tw, 1))
        origin = (int(x - w * 0.42), int(y - h / 2 + (r + 0.75) * row_height))
        cv2.putText(image, letters, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (240, 240, 240),
                    thickness, cv2.LINE_AA)


def _traffic_light(image, rng, x, y, size) -> None:
    w, h = max(3, int(size * 0.4)), max(6, int(size * 1.1))
    cv2.rectangle(image, (x - w // 2, y - h // 2), (x + w // 2, y + h // 2), (30, 30, 30), -1)
    lit = int(rng.integers(3))
    for k, colour in enumerate(((220, 40, 30), (235, 180, 30), (40, 200, 90))):
        cy = int(y - h / 2 + (k + 0.5) * h / 3)
        cv2.circle(image, (x, cy), max(1, int(w * 0.35)), colour if k == lit else (60, 60, 60),
                   -1, cv2.LINE_AA)


def blend_patch(image: np.ndarray, patch: signs.SignPatch) -> None:
    """Alpha-blend a premultiplied patch into the image, clipped to the image."""
    h, w = image.shape[:2]
    ph, pw = patch.alpha.shape
    x0, y0 = max(patch.x0, 0), max(patch.y0, 0)
    x1, y1 = min(patch.x0 + pw, w), min(patch.y0 + ph, h)
    if x1 <= x0 or y1 <= y0:
        return
    sy, sx = slice(y0 - patch.y0, y1 - patch.y0), slice(x0 - patch.x0, x1 - patch.x0)
    alpha = patch.alpha[sy, sx, None]
    region = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + patch.premultiplied[sy, sx], 0,
                                  255).astype(np.uint8)


def draw_distractor(image: np.ndarray, rng: np.random.Generator, x: int, y: int,
                    size: float, labelled: Collection[str] = ()) -> str:
    """Paint one unlabelled sign-like object of about ``size`` pixels centred at (x, y);
    returns its kind. Real signs among the look-alikes (a stop sign, classes outside the
    catalogue) are skipped when they are in ``labelled``, the dataset's classes."""
    size = max(4.0, float(size))
    r = int(round(size / 2))
    kinds = ("red_disc", "red_ring", "blue_disc", "blue_board", "green_board",
             "traffic_light", "sign_back", "octagon", "yellow_diamond", "outside_catalogue",
             "orange_ring")
    kind = kinds[rng.integers(len(kinds))]
    category = OUTSIDE_CATALOGUE[rng.integers(len(OUTSIDE_CATALOGUE))]
    # A small stop sign would look like the no-entry class pne: keep it large enough.
    if (kind == "octagon" and ("stop" in labelled or size < 24)) or (
            kind == "outside_catalogue" and category in labelled):
        kind = "red_disc"
    if kind == "red_disc":  # a plain red disc: a balloon, a lamp, a logo
        cv2.circle(image, (x, y), r, pick(rng, ((200, 30, 35), (225, 60, 50))), -1, cv2.LINE_AA)
    elif kind == "red_ring":  # a red ring around something that is not a sign face
        cv2.circle(image, (x, y), r, pick(rng, ((235, 225, 200), (60, 60, 60))), -1, cv2.LINE_AA)
        cv2.circle(image, (x, y), max(1, int(r * 0.85)), (200, 30, 35),
                   max(1, int(r * 0.25)), cv2.LINE_AA)
    elif kind == "blue_disc":  # a blue disc without a symbol
        cv2.circle(image, (x, y), r, pick(rng, ((20, 75, 170), (40, 100, 190))), -1, cv2.LINE_AA)
    elif kind == "blue_board":
        _board(image, rng, x, y, size, pick(rng, ((20, 70, 165),)))
    elif kind == "green_board":  # Chinese guide signs are green or blue boards
        _board(image, rng, x, y, size, pick(rng, ((20, 120, 70),)))
    elif kind == "traffic_light":
        _traffic_light(image, rng, x, y, size)
    elif kind == "sign_back":  # the grey back of a sign facing the other way
        cv2.circle(image, (x, y), r, pick(rng, ((150, 150, 155), (120, 125, 130))), -1,
                   cv2.LINE_AA)
        cv2.circle(image, (x, y), max(1, r // 5), (90, 90, 90), -1)
    elif kind == "octagon":  # a stop sign: a real sign, but not one of the classes
        blend_patch(image, signs.sign_patch("stop", size, (x, y)))
    elif kind == "yellow_diamond":
        pts = np.array([[x, y - r], [x + r, y], [x, y + r], [x - r, y]], np.int32)
        cv2.fillPoly(image, [pts], (245, 190, 30), cv2.LINE_AA)
        cv2.polylines(image, [pts], True, (25, 25, 25), max(1, r // 6), cv2.LINE_AA)
    elif kind == "outside_catalogue":  # a sign of a class the detector must not report
        blend_patch(image, signs.sign_patch(category, size, (x, y)))
    else:  # a convex mirror on a pole: an orange ring around a dark disc
        cv2.circle(image, (x, y), r, (230, 110, 30), -1, cv2.LINE_AA)
        cv2.circle(image, (x, y), max(1, int(r * 0.75)), (70, 80, 90), -1, cv2.LINE_AA)
    return kind


def draw_sign_pole(image: np.ndarray, rng: np.random.Generator, x: float, top: float,
                   bottom: float, thickness: float) -> None:
    """The pole a sign (or a stack of signs) is mounted on, from ``top`` to ``bottom``."""
    colour = pick(rng, POLE_COLOURS, 8)
    cv2.line(image, (int(round(x)), int(top)), (int(round(x)), int(bottom)), colour,
             max(1, int(round(thickness))))


# ---------------------------------------------------------------------------------------
# Occluders: things in front of a sign.
# ---------------------------------------------------------------------------------------

@dataclass
class Occluder:
    """Pixels rows y0:y0+h, columns x0:x0+w: ``mask`` bool (h, w), ``rgb`` uint8 (h, w, 3)."""

    x0: int
    y0: int
    mask: np.ndarray
    rgb: np.ndarray
    kind: str


def make_occluder(rng: np.random.Generator, image_shape: tuple[int, int],
                  box: Sequence[float]) -> Occluder:
    """An occluder overlapping the edge of ``box`` (x1, y1, x2, y2): foliage, a branch, a
    pole, a wire or a board. Drawn without anti-aliasing so that its mask is exact."""
    h, w = image_shape
    bx1, by1, bx2, by2 = box
    size = max(bx2 - bx1, by2 - by1)
    x0, y0 = int(max(0, bx1 - size)), int(max(0, by1 - size))
    x1, y1 = int(min(w, bx2 + size)), int(min(h, by2 + size))
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cx, cy = (bx1 + bx2) / 2 - x0, (by1 + by2) / 2 - y0
    kinds = ("foliage", "branch", "pole", "wire", "board")
    kind = kinds[rng.choice(len(kinds), p=[0.4, 0.2, 0.2, 0.1, 0.1])]
    angle = rng.uniform(0, 2 * math.pi)
    # A point on the sign's rim, where occluders typically enter.
    ex, ey = cx + 0.5 * size * math.cos(angle), cy + 0.5 * size * math.sin(angle)
    if kind == "foliage":
        for _ in range(int(rng.integers(3, 8))):
            r = max(1, int(size * rng.uniform(0.1, 0.25)))
            dx, dy = rng.normal(0, 0.2 * size, 2)
            cv2.circle(canvas, (int(ex + dx + math.cos(angle) * r),
                                int(ey + dy + math.sin(angle) * r)), r, 255, -1)
        colours = GREENS
    elif kind == "branch":
        far = (ex + math.cos(angle) * size * 2, ey + math.sin(angle) * size * 2)
        bend = (ex - math.cos(angle) * size * 0.25 + rng.normal(0, 0.1 * size),
                ey - math.sin(angle) * size * 0.25 + rng.normal(0, 0.1 * size))
        pts = np.array([far, (ex, ey), bend], np.int32)
        cv2.polylines(canvas, [pts], False, 255, max(1, int(size * rng.uniform(0.04, 0.1))))
        colours = ((75, 60, 45), (55, 45, 35), (90, 80, 60))
    elif kind == "pole":
        px = int(cx + rng.uniform(-0.45, 0.45) * size)
        cv2.line(canvas, (px, 0), (px, canvas.shape[0]), 255,
                 max(1, int(size * rng.uniform(0.06, 0.15))))
        colours = POLE_COLOURS
    elif kind == "wire":
        dy = rng.uniform(-0.4, 0.4) * size
        cv2.line(canvas, (0, int(cy + dy)), (canvas.shape[1], int(cy + dy + rng.normal(0, 0.2)
                                                                    * size)), 255, 1)
        colours = ((35, 35, 40),)
    else:  # the corner of a board or a vehicle pushing in from one side
        half = size * rng.uniform(0.6, 1.0)
        cv2.rectangle(canvas, (int(ex - half), int(ey - half)), (int(ex + half), int(ey + half)),
                      255, -1)
        colours = FACADES + CAR_COLOURS
    mask = canvas > 0
    rgb = np.empty(canvas.shape + (3,), np.uint8)
    rgb[:] = pick(rng, colours, 10)
    if kind == "foliage":  # leaf texture
        shade = rng.uniform(0.7, 1.2, canvas.shape).astype(np.float32)
        rgb = np.clip(rgb * shade[..., None], 0, 255).astype(np.uint8)
    return Occluder(x0, y0, mask, rgb, kind)


def paint_occluder(image: np.ndarray, occluder: Occluder) -> None:
    """Paint an occluder's pixels over the image."""
    h, w = occluder.mask.shape
    region = image[occluder.y0:occluder.y0 + h, occluder.x0:occluder.x0 + w]
    region[occluder.mask] = occluder.rgb[occluder.mask]
