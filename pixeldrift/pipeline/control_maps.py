"""Control maps for ControlNet (Zhang et al. 2023): from any image, and from a world scene.

    edges     Canny (1986) edges, white on black, by OpenCV, as ControlNet's canny model takes them
    scribble  a thin sketch of the outlines: the edges dilated into single strokes, then thinned
              back to one-pixel lines (Zhang & Suen 1984), white on black
    layout, glyph, clock
              drawn from a world scene spec (world/control_maps.py): a colour layout, a sign's
              word, a clock's hands

Every map is an (H, W, 3) uint8 array of the input's size. `world_control` gives the
map of any kind for a rendered world scene, which is how ControlNet training gets its
control images for free.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pixeldrift.world import Scene, render
from pixeldrift.world.control_maps import SCENE_MAPS

CANNY_LOW, CANNY_HIGH = 100, 200  # hysteresis thresholds on 0..255 intensities, ControlNet's defaults
SCRIBBLE_DILATION = 1             # 3x3 dilations that merge an outline's two edges into one stroke


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError("edge maps need OpenCV: pip install opencv-python-headless") from None
    return cv2


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"a control map is made from an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    return _cv2().cvtColor(image, _cv2().COLOR_RGB2GRAY)


def _rgb(mask: np.ndarray) -> np.ndarray:
    return np.repeat(np.where(mask > 0, 255, 0).astype(np.uint8)[:, :, None], 3, axis=2)


def edge_mask(image: np.ndarray, low: float = CANNY_LOW, high: float = CANNY_HIGH) -> np.ndarray:
    """(H, W) bool: Canny edges of an RGB uint8 image (hysteresis thresholds low < high on 0..255)."""
    return _cv2().Canny(_grey(image), low, high) > 0


def edges(image: np.ndarray, low: float = CANNY_LOW, high: float = CANNY_HIGH) -> np.ndarray:
    """The Canny edge map of an (H, W, 3) uint8 image: white edges on black."""
    return _rgb(edge_mask(image, low, high))


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang & Suen's (1984) thinning: peel boundary pixels in two alternating sub-passes until only
    one-pixel-wide, still connected lines are left. (H, W) bool in and out."""
    image = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for first in (True, False):
            p = _neighbours(image)  # P2..P9, clockwise from north
            count = sum(p)
            transitions = sum((p[i] == 0) & (p[(i + 1) % 8] == 1) for i in range(8))
            a, b = (p[0] * p[2] * p[4], p[2] * p[4] * p[6]) if first else (p[0] * p[2] * p[6], p[0] * p[4] * p[6])
            peel = (image[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & (a == 0) & (b == 0)
            if peel.any():
                image[1:-1, 1:-1][peel] = 0
                changed = True
    return image[1:-1, 1:-1] > 0


def _neighbours(padded: np.ndarray) -> list[np.ndarray]:
    h, w = padded.shape[0] - 2, padded.shape[1] - 2
    offsets = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    return [padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w].astype(np.int32) for dy, dx in offsets]


def scribble(image: np.ndarray) -> np.ndarray:
    """A thin sketch of an (H, W, 3) uint8 image's outlines: the edges dilated, so that an outline's
    two edges and small gaps merge into one stroke, then thinned to one-pixel lines; white on black."""
    cv2 = _cv2()
    strokes = cv2.dilate(edge_mask(image).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=SCRIBBLE_DILATION)
    return _rgb(thin(strokes > 0))


IMAGE_MAPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"edges": edges, "scribble": scribble}
CONTROL_KINDS = (*IMAGE_MAPS, *SCENE_MAPS)


def check_kind(kind: str) -> str:
    if kind not in CONTROL_KINDS:
        raise ValueError(f"unknown control kind {kind!r}; the known kinds are {', '.join(CONTROL_KINDS)}")
    return kind


def image_control(kind: str, image: np.ndarray) -> np.ndarray:
    """The `kind` map of any image (edges, scribble); the scene kinds need a world scene, and say so."""
    if check_kind(kind) not in IMAGE_MAPS:
        raise ValueError(f"the {kind} map is drawn from a world scene, not from an image; make it from a prompt "
                         f"(pixeldrift control {kind} --prompt TEXT); from an image: {', '.join(IMAGE_MAPS)}")
    return IMAGE_MAPS[kind](image)


def world_control(kind: str, spec: Scene, size: int, seed: int, image: np.ndarray | None = None) -> np.ndarray:
    """The `kind` map of the world scene (spec, size, seed); `image`: its render, if already drawn."""
    if check_kind(kind) in SCENE_MAPS:
        return SCENE_MAPS[kind](spec, size, seed)
    return IMAGE_MAPS[kind](render(spec, size, seed) if image is None else image)
