"""Outpainting: a larger canvas around an image, and the mask that says what to fill.

The new border starts as the image's edge pixels stretched outward (the sampler
starts from pure noise there anyway, at strength 1); the mask covers the border plus
`overlap` pixels into the image, so the seam is repainted too.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIDES = ("left", "right", "top", "bottom")
MAX_PAD = 1024


def parse_pads(items: list[str] | tuple[str, ...]) -> dict[str, int]:
    """['left=32', 'top=16'] -> {'left': 32, 'right': 0, 'top': 16, 'bottom': 0}."""
    pads = dict.fromkeys(SIDES, 0)
    for item in items:
        side, _, amount = item.partition("=")
        side = side.strip().lower()
        if side not in SIDES or not amount.strip().isdigit():
            raise ValueError(f"pad {item!r} must look like SIDE=PIXELS with SIDE one of {', '.join(SIDES)}")
        pads[side] = int(amount)
        if pads[side] > MAX_PAD:
            raise ValueError(f"pad {item!r}: at most {MAX_PAD} pixels a side")
    if not any(pads.values()):
        raise ValueError("give at least one pad, e.g. --pad left=32")
    return pads


def extend_canvas(image: Image.Image, pads: dict[str, int], overlap: int = 4) -> tuple[Image.Image, Image.Image]:
    """(canvas, mask): the image padded by edge replication, and white over the border to fill."""
    pixels = np.asarray(image.convert("RGB"))
    widths = ((pads["top"], pads["bottom"]), (pads["left"], pads["right"]), (0, 0))
    canvas = np.pad(pixels, widths, mode="edge")
    mask = np.full(canvas.shape[:2], 255, np.uint8)
    h, w = pixels.shape[:2]
    keep_top = pads["top"] + (overlap if pads["top"] else 0)
    keep_left = pads["left"] + (overlap if pads["left"] else 0)
    keep_bottom = pads["top"] + h - (overlap if pads["bottom"] else 0)
    keep_right = pads["left"] + w - (overlap if pads["right"] else 0)
    mask[keep_top:keep_bottom, keep_left:keep_right] = 0
    return Image.fromarray(canvas), Image.fromarray(mask)
