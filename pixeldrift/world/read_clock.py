"""Reading the time from an analog clock face.

1. The face: the box of the dark pixels (rim, ticks, hands) gives centre and radius R.
2. Darkness of every pixel inside the face, against the face colour.
3. Minute hand: the dark mass in the ring 0.5R-0.68R, where only the long hand reaches;
   its mean direction is the minute angle, rounded to the 5-minute grid.
4. Hour hand: of the twelve hour-hand angles that fit the minute read in step 3, the
   one whose flanks are darkest in the ring 0.18R-0.40R. The flanks lie inside the wide
   hour hand but outside the thin minute hand, so overlapping hands cannot mislead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
import math

import numpy as np

from pixeldrift.world.components import connected_components
from pixeldrift.world.read_pixels import UnreadableScene, luminance
from pixeldrift.world.render import HOUR_HAND, MINUTE_HAND
from pixeldrift.world.spec import MINUTE_STEP

DARK_LUMA = 0.5  # ink is 0.14, the face and every background above 0.8
MINUTE_RING = (0.50, 0.68)  # beyond the hour hand (0.45 R), short of the minute hand's tip (0.72 R)
HOUR_RING = (0.18, 0.40)  # past the centre cap, short of the hour hand's tip
HOUR_FLANK = (HOUR_HAND[1] + MINUTE_HAND[1]) / 4  # between the two hands' half-widths, in units of R


@dataclass(frozen=True)
class SeenClock:
    hour: int
    minute: int
    minute_angle: float  # degrees clockwise from 12, as measured
    hour_angle: float  # the hour-hand angle that matched


def _face(dark: np.ndarray) -> tuple[float, float, float]:
    """Centre (x, y) and radius of the clock face: the box of all dark pieces (rim, ticks, hands)."""
    pieces = connected_components(dark, min_area=2)
    if not pieces:
        raise UnreadableScene("no dark clock rim found")
    ys, xs = np.concatenate([p.ys for p in pieces]), np.concatenate([p.xs for p in pieces])
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
    width, height = x1 - x0 + 1, y1 - y0 + 1
    if width < 0.25 * dark.shape[1] or not 0.8 < width / height < 1.25:
        raise UnreadableScene(f"no round clock face found (the dark pixels span {width} x {height} pixels)")
    return (x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2, (width + height) / 4


@cache
def _pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    return ys, xs


def _mean_angle(weights: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> float | None:
    """Weighted mean direction in degrees clockwise from 12, or None without enough ink."""
    if weights.sum() < 1.0:
        return None
    r = np.hypot(dx, dy)
    sx, sy = (weights * dx / r).sum(), (weights * -dy / r).sum()
    return math.degrees(math.atan2(sx, sy)) % 360.0


def read_clock(pixels: np.ndarray) -> SeenClock:
    """The time shown, or :class:`UnreadableScene` saying why none could be read."""
    luma = luminance(pixels)
    cx, cy, radius = _face(luma < DARK_LUMA)
    ys, xs = _pixel_centres(luma.shape[0])
    dx, dy = xs - cx, ys - cy
    r = np.hypot(dx, dy) / radius
    face_luma = np.median(luma[(r > 0.45) & (r < 0.7)])
    darkness = np.clip((face_luma - luma) / max(face_luma - 0.15, 0.1), 0.0, 1.0)
    ring = (r > MINUTE_RING[0]) & (r < MINUTE_RING[1])
    minute_angle = _mean_angle(darkness[ring], dx[ring], dy[ring])
    if minute_angle is None:
        raise UnreadableScene("no minute hand found")
    minute = round(minute_angle / (6 * MINUTE_STEP)) * MINUTE_STEP % 60
    hour, hour_angle = _read_hour(darkness, cx, cy, radius, minute)
    return SeenClock(hour=hour, minute=minute, minute_angle=minute_angle, hour_angle=hour_angle)


def _sample(values: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``values`` at pixel-centre coordinates (x + 0.5 is the pixel's middle)."""
    xs, ys = np.clip(xs - 0.5, 0, values.shape[1] - 1.001), np.clip(ys - 0.5, 0, values.shape[0] - 1.001)
    x0, y0 = xs.astype(int), ys.astype(int)
    fx, fy = xs - x0, ys - y0
    top = values[y0, x0] * (1 - fx) + values[y0, x0 + 1] * fx
    bottom = values[y0 + 1, x0] * (1 - fx) + values[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _read_hour(darkness, cx: float, cy: float, radius: float, minute: int) -> tuple[int, float]:
    """Of the twelve hour-hand angles that fit ``minute``, the one whose flanks are darkest.

    The flanks sit inside the wide hour hand but outside the thin minute hand, so a
    candidate that only lines up with the minute hand scores low on one flank at least.
    """
    hours = np.arange(1, 13)
    angles = (30.0 * (hours % 12) + 0.5 * minute) % 360.0
    a = np.radians(angles)[:, None, None]  # (hour, flank, point along the hand)
    along = (np.linspace(HOUR_RING[0], HOUR_RING[1], 6) * radius)[None, None, :]
    flank = (np.array([-1.0, 1.0]) * HOUR_FLANK * radius)[None, :, None]
    xs = cx + along * np.sin(a) + flank * np.cos(a)
    ys = cy - along * np.cos(a) + flank * np.sin(a)
    scores = _sample(darkness, xs, ys).mean(axis=2).min(axis=1)
    best = int(scores.argmax())
    return int(hours[best]), float(angles[best])
