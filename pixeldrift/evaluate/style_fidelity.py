"""Style fidelity of a personalised model, for a style the world never draws: outlined objects.

A style adapter should change how things are drawn and keep what is drawn. The world lets both be
checked exactly. An object drawn as an outline is a ring of its colour around a hole of background:
its *hollowness* is the share of its filled silhouette (the ring with its holes filled) that is
background. Solid world objects have none (their anti-aliased edges close no hole: 0.0 on 200 object
renders); outlined ones (`outline_objects` with a 2 px ring at 64 px, as bench/personalise_style.py
trains on them) have 0.08-0.58, median 0.37 (small stars and crosses the least), and all 200 verify
once filled. An image is in the style when its objects' pooled hollowness reaches `OUTLINED`. What is
drawn is checked by filling every hole with the colour of the ring around it, which turns an outline
back into the solid object the world's verifier reads, and verifying the prompt on that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from pixeldrift.world import parse_prompt, verify
from pixeldrift.world.read_objects import FOREGROUND_DISTANCE
from pixeldrift.world.read_pixels import border_colour

OUTLINED = 0.05
CORE_FRACTION = 0.85


@dataclass(frozen=True)
class StyleVerdict:
    """`hollowness`: background share of the objects' filled silhouettes (0 with no object);
    `content_ok`: the verifier accepts the prompt on the image with its holes filled."""

    hollowness: float
    content_ok: bool
    explanation: str

    @property
    def outlined(self) -> bool:
        return self.hollowness >= OUTLINED

    @property
    def ok(self) -> bool:
        return self.outlined and self.content_ok


def _pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, np.float32) / 255.0


def background_distance(pixels: np.ndarray) -> np.ndarray:
    """Each pixel's colour distance from the background (the frame's colour)."""
    return np.linalg.norm(pixels - border_colour(pixels), axis=2)


def object_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels that differ from the background as the world's reader sees objects."""
    return background_distance(pixels) > FOREGROUND_DISTANCE


def outline_objects(pixels: np.ndarray, ring: int) -> np.ndarray:
    """The style itself: a uint8 render with each object's inside (its mask eroded by `ring` pixels)
    painted the background colour, leaving a ring."""
    inside = ndimage.binary_erosion(object_mask(pixels.astype(np.float32) / 255.0), iterations=ring)
    result = pixels.copy()
    result[inside] = np.round(border_colour(pixels.astype(np.float32))).astype(np.uint8)
    return result


def hollowness(image) -> float:
    """Share of the objects' filled silhouettes that is hole (background enclosed by an object)."""
    mask = object_mask(_pixels(image))
    filled = ndimage.binary_fill_holes(mask)
    return float((filled & ~mask).sum() / filled.sum()) if filled.any() else 0.0


def fill_outlines(image) -> np.ndarray:
    """The image (uint8 RGB) with every enclosed hole painted its object's colour: the median of the
    object's core, its pixels at least `CORE_FRACTION` of its largest distance from the background
    (the anti-aliased rim is a blend, not the colour)."""
    pixels = _pixels(image)
    distance = background_distance(pixels)
    mask = distance > FOREGROUND_DISTANCE
    filled = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(filled)
    result = pixels.copy()
    for label in range(1, count + 1):
        inside = labels == label
        holes = inside & ~mask
        if holes.any():
            own = distance[inside & mask]
            core = inside & mask & (distance >= CORE_FRACTION * own.max())
            result[holes] = np.median(pixels[core], axis=0)
    return (result * 255).round().astype(np.uint8)


def judge_style(image, prompt: str) -> StyleVerdict:
    """Is the image outlined, and does its content (holes filled) verify against the world prompt?"""
    verdict = verify(fill_outlines(image), parse_prompt(prompt))
    return StyleVerdict(hollowness(image), verdict.ok, verdict.explain())
