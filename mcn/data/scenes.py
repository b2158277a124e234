"""Street-like backgrounds and camera effects of the synthetic scenes.

The synthetic stand-in for Tsinghua-Tencent 100K (Zhu et al., CVPR 2016) needs what
makes traffic-sign detection hard in those 2048 x 2048 street-view panoramas: large
textured backgrounds (sky, buildings with window grids, trees, road, poles, wires,
cars), things that look like signs but are not (red discs, blue and green boards, signs
of classes outside the catalogue, traffic lights, sign backs), objects in front of the
signs, and the camera's blur, exposure, noise and JPEG compression.

This module paints the street behind the signs and, last, the camera; the things in
front of or beside the signs are in ``mcn.data.clutter``. Everything here only paints
pixels: no object here carries a label. Every function takes a
``numpy.random.Generator``, so a scene is a pure function of its generator. Images are
RGB uint8 (H, W, 3). Taught in chapter 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

# Palettes (RGB).
SKY_CLEAR = ((95, 150, 215), (185, 210, 235))  # (zenith, horizon)
SKY_HAZY = ((170, 185, 200), (215, 220, 225))
SKY_OVERCAST = ((200, 202, 205), (232, 232, 230))
FACADES = ((196, 184, 160), (160, 150, 140), (120, 112, 105), (210, 205, 195),
           (150, 95, 75), (185, 175, 150), (110, 125, 135), (225, 215, 190))
GREENS = ((38, 70, 30), (55, 95, 40), (75, 115, 50), (95, 130, 60), (30, 55, 35),
          (110, 140, 80))
ROAD_GREYS = ((85, 85, 88), (100, 100, 102), (70, 72, 75), (115, 112, 108))
POLE_COLOURS = ((140, 140, 140), (95, 100, 105), (170, 170, 165), (70, 90, 80),
                (60, 60, 65))
CAR_COLOURS = ((200, 200, 200), (30, 30, 35), (150, 20, 25), (40, 60, 120),
               (230, 230, 225), (120, 120, 125), (180, 160, 120))


@dataclass
class Background:
    """A painted street scene: ``image`` (H, W, 3) RGB uint8 and the row of its horizon
    (where the road vanishes), which decides where poles stand."""

    image: np.ndarray
    horizon: int


def pick(rng: np.random.Generator, palette: Sequence, jitter: float = 12.0) -> tuple:
    """A colour from a palette, jittered so no two scenes are alike: mostly a change of
    brightness, a little of hue (greys must stay grey)."""
    base = palette[rng.integers(len(palette))]
    common, *own = rng.normal(0.0, jitter, 4)
    return tuple(int(min(255.0, max(0.0, b + common + o / 3))) for b, o in zip(base, own))


def _sky(image: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    palette = (SKY_CLEAR, SKY_HAZY, SKY_OVERCAST)[rng.choice(3, p=[0.45, 0.3, 0.25])]
    top, bottom = (np.asarray(c, np.float32) for c in palette)
    rows = max(horizon, 1)
    t = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    column = (top * (1 - t) + bottom * t).round().astype(np.uint8)[:, None, :]
    image[:rows] = cv2.resize(column, (image.shape[1], rows), interpolation=cv2.INTER_NEAREST)


def _buildings(image: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = image.shape[:2]
    x = int(-rng.uniform(0, 0.2) * w)
    while x < w:
        width = int(rng.uniform(0.12, 0.5) * w)
        if rng.random() < 0.2:  # a gap in the street front
            x += width // 2
            continue
        top = int(horizon - rng.uniform(0.15, 1.1) * horizon)
        bottom = horizon + int(rng.uniform(0.0, 0.08) * h)
        x0, x1, y0 = max(x, 0), min(x + width, w), max(top, 0)
        if x1 > x0 and bottom > y0:
            facade = pick(rng, FACADES)
            image[y0:bottom, x0:x1] = facade
            _windows(image[y0:bottom, x0:x1], rng, facade)
        x += width
    # Shop fronts along the bottom of the buildings: the most cluttered band of a street.
    band = max(2, int(0.03 * h))
    image[max(horizon - band, 0):horizon] = (np.asarray(image[max(horizon - band, 0):horizon],
                                                        np.float32) * 0.7).astype(np.uint8)


def _windows(facade: np.ndarray, rng: np.random.Generator, colour: tuple) -> None:
    """A regular grid of windows, drawn with two 1-D masks instead of many rectangles."""
    h, w = facade.shape[:2]
    pitch_x = max(4, int(rng.uniform(0.04, 0.12) * max(w, 40) + 3))
    pitch_y = max(4, int(pitch_x * rng.uniform(0.8, 1.6)))
    fill = rng.uniform(0.35, 0.65)
    cols = (np.arange(w) % pitch_x) < pitch_x * fill
    rows = (np.arange(h) % pitch_y) < pitch_y * fill
    shade = rng.choice([0.55, 0.7, 1.25])
    glass = np.clip(np.asarray(colour) * shade + rng.normal(0, 10, 3) + [0, 5, 15], 0, 255)
    facade[np.outer(rows, cols)] = glass.astype(np.uint8)


def _tree(image: np.ndarray, rng: np.random.Generator, cx: float, cy: float,
          radius: float) -> None:
    """A crown of overlapping leaf clusters over a trunk, with a leafy texture."""
    h, w = image.shape[:2]
    trunk = max(1, int(radius * 0.12))
    cv2.line(image, (int(cx), int(cy)), (int(cx), h), pick(rng, ((70, 55, 40),)), trunk)
    # Paint the crown on a local canvas so that the texture touches only the leaves.
    x0, y0 = int(max(0, cx - 1.6 * radius)), int(max(0, cy - 1.6 * radius))
    x1, y1 = int(min(w, cx + 1.6 * radius)), int(min(h, cy + 1.6 * radius))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    crown = image[y0:y1, x0:x1].copy()  # leaves are painted here, then textured
    mask = np.zeros(crown.shape[:2], np.uint8)
    for _ in range(int(rng.integers(10, 22))):
        angle, dist = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.random())
        r = max(2, int(radius * rng.uniform(0.25, 0.55)))
        centre = (int(cx - x0 + dist * math.cos(angle)),
                  int(cy - y0 + 0.8 * dist * math.sin(angle)))
        cv2.circle(crown, centre, r, pick(rng, GREENS, 10), -1)
        cv2.circle(mask, centre, r, 255, -1)
    leaf = max(2.0, radius * 0.06)  # leaf-cluster size in pixels
    coarse = rng.uniform(0.6, 1.35, (int(crown.shape[0] / leaf) + 2,
                                     int(crown.shape[1] / leaf) + 2)).astype(np.float32)
    texture = cv2.resize(coarse, crown.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    textured = cv2.multiply(crown, cv2.merge([texture] * 3), dtype=cv2.CV_8U)
    np.copyto(image[y0:y1, x0:x1], textured, where=mask[..., None] > 0)


def _road(image: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = image.shape[:2]
    if horizon >= h:
        return
    image[horizon:] = pick(rng, ROAD_GREYS, 6)
    vanish_x = rng.uniform(0.2, 0.8) * w
    # Pavements left and right: polygons from near the vanishing point to the bottom.
    kerb = rng.uniform(0.15, 0.4) * w
    pavement = pick(rng, ((150, 145, 138), (170, 160, 150), (130, 125, 120)), 8)
    for side in (-1, 1):
        bottom_x = vanish_x + side * (w * rng.uniform(0.5, 1.0) + kerb)
        edge = vanish_x + side * 0.02 * w
        far = vanish_x + side * 2 * w
        poly = np.array([[edge, horizon], [far, horizon], [far, h], [bottom_x, h]], np.int32)
        cv2.fillPoly(image, [poly], pavement)
        cv2.line(image, (int(edge), horizon), (int(bottom_x), h), (200, 200, 195), 2)
    # Lane markings converge on the vanishing point; dashes grow towards the camera.
    for lane in rng.uniform(-0.8, 0.8, int(rng.integers(1, 4))):
        colour = (235, 235, 230) if rng.random() < 0.8 else (230, 190, 40)
        bottom_x = vanish_x + lane * w
        t = 0.05
        while t < 1.0:
            t1 = min(1.0, t + 0.12 * t + 0.02)
            p0 = (int(vanish_x + (bottom_x - vanish_x) * t), int(horizon + (h - horizon) * t))
            p1 = (int(vanish_x + (bottom_x - vanish_x) * t1), int(horizon + (h - horizon) * t1))
            cv2.line(image, p0, p1, colour, max(1, int(6 * t * w / 512)))
            t = t1 + 0.1 * t1 + 0.02


def _car(image: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = image.shape[:2]
    # Cars further down the image are closer to the camera and bigger; keep them in the
    # distance so that they do not cover the scene.
    y = int(horizon + rng.uniform(0.02, 0.4) * (h - horizon))
    length = max(6, int((y - horizon + 0.02 * h) * rng.uniform(1.0, 2.0)))
    height = int(length * rng.uniform(0.35, 0.6))
    x = int(rng.uniform(-0.2, 1.0) * w)
    colour = pick(rng, CAR_COLOURS, 8)
    cv2.rectangle(image, (x, y - height), (x + length, y - height // 3), colour, -1)
    cv2.rectangle(image, (x + length // 6, y - height - height // 2),
                  (x + length - length // 5, y - height), colour, -1)
    cv2.rectangle(image, (x + length // 5, y - height - height // 3),
                  (x + length - length // 4, y - height), (50, 60, 70), -1)
    for wx in (x + length // 5, x + length - length // 5):
        cv2.circle(image, (wx, y - height // 3), max(2, height // 3), (25, 25, 25), -1)
    if rng.random() < 0.5:  # tail lights: small red blobs, a classic false positive
        r = max(1, height // 8)
        for lx in (x + r + 1, x + length - r - 1):
            cv2.circle(image, (lx, y - height + 2 * r), r, (210, 30, 30), -1)


def _pole(image: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = image.shape[:2]
    x = int(rng.uniform(0, w))
    bottom = int(rng.uniform(horizon, h + 1))
    top = int(rng.uniform(-0.2, 0.4) * h)
    width = max(1, int(rng.uniform(0.004, 0.02) * w))
    colour = pick(rng, POLE_COLOURS, 10)
    cv2.line(image, (x, top), (x, bottom), colour, width)
    if rng.random() < 0.5:  # a lamp arm
        side = 1 if rng.random() < 0.5 else -1
        reach = int(rng.uniform(0.05, 0.2) * w)
        cv2.line(image, (x, top + width), (x + side * reach, top + 2 * width), colour,
                 max(1, width // 2))
        cv2.ellipse(image, (x + side * reach, top + 3 * width), (2 * width + 1, width + 1),
                    0, 0, 360, (235, 235, 220), -1)


def _wires(image: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    h, w = image.shape[:2]
    xs = np.linspace(-0.1 * w, 1.1 * w, 24)
    for _ in range(int(rng.integers(1, 4))):
        y0, sag = rng.uniform(0, 0.6) * horizon, rng.uniform(-0.05, 0.15) * h
        ys = y0 + sag * (1 - ((xs - w / 2) / (0.6 * w)) ** 2) + rng.uniform(-0.1, 0.1) * xs
        cv2.polylines(image, [np.stack([xs, ys], 1).astype(np.int32)], False, (40, 40, 45),
                      1, cv2.LINE_AA)


def paint_background(rng: np.random.Generator, height: int, width: int) -> Background:
    """A street scene without traffic signs: sky, buildings, trees, road, poles, cars and
    wires. Returns the image and its horizon row."""
    image = np.zeros((height, width, 3), np.uint8)
    horizon = int(rng.uniform(0.3, 0.75) * height)
    _sky(image, rng, horizon)
    _buildings(image, rng, horizon)
    _road(image, rng, horizon)
    for _ in range(int(rng.integers(0, 5))):
        radius = rng.uniform(0.06, 0.3) * width
        _tree(image, rng, rng.uniform(0, width), horizon - rng.uniform(0.0, 0.9) * radius
              - 0.3 * radius, radius)
    for _ in range(int(rng.integers(0, 4))):
        _car(image, rng, horizon)
    for _ in range(int(rng.integers(0, 4))):
        _pole(image, rng, horizon)
    if rng.random() < 0.4:
        _wires(image, rng, horizon)
    return Background(image, horizon)


# ---------------------------------------------------------------------------------------
# Camera
# ---------------------------------------------------------------------------------------

def camera_effects(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light, exposure, gamma and colour cast, optical or motion blur, sensor
    noise and JPEG compression, applied to the finished scene (signs included).

    None of these moves a pixel by more than a blur radius, so labels stay valid.
    cv2's saturating arithmetic (``dtype=CV_8U``) keeps this fast at 512 x 512.
    """
    h, w = image.shape[:2]
    # Light and shadow patches: a coarse random field, upsampled, times the exposure
    # gain and a per-channel colour cast.
    coarse = rng.uniform(0.75, 1.15, (4 + h // 96, 4 + w // 96, 1))
    cast = rng.uniform(0.92, 1.08, 3) * rng.uniform(0.75, 1.25)
    field = cv2.resize((coarse * cast).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_LINEAR)
    image = cv2.multiply(image, field, dtype=cv2.CV_8U)
    gamma = math.exp(rng.uniform(-0.3, 0.3))
    table = (255 * (np.arange(256) / 255.0) ** gamma).round().astype(np.uint8)
    image = cv2.LUT(image, table)
    blur = rng.random()
    if blur < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.0))
    elif blur < 0.6:
        length = int(rng.integers(3, 6))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0 / length
        image = cv2.filter2D(image, -1, kernel)
    noise = rng.standard_normal((h, w), dtype=np.float32) * np.float32(rng.uniform(1.0, 5.0))
    image = cv2.add(image, cv2.merge([noise] * 3), dtype=cv2.CV_8U)
    if rng.random() < 0.5:
        quality = int(rng.integers(45, 95))
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # OpenCV codecs expect BGR
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            image = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return image
