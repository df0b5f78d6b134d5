"""The verifier's shape templates: what each shape looks like to the reader at each pixel size.

An 8 x 8 coverage grid of a 10-pixel star is not the ideal star: edges are
anti-aliased, thin points fade, blur rounds corners. So the templates are made
by rendering every shape through the renderer's own drawing path at many pixel
sides, sharp and blurred, with sub-pixel offsets, and reading each back with the
reader's own steps (coverage box, area resampling). Classification is the
nearest template among those of a similar pixel side.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pixeldrift.world.read_pixels import coverage_box, resample
from pixeldrift.world.shapes import TEMPLATE_CELLS, draw_shape
from pixeldrift.world.layout import SIZE_FRACTION
from pixeldrift.world.spec import IMAGE_SIZES, SHAPES

# Output-pixel sides: the world's own sizes at every image size, and a spread around them.
BANK_SIDES = tuple(sorted({*(f * s for f in SIZE_FRACTION.values() for s in IMAGE_SIZES),
                           4.0, 5.0, 8.0, 10.0, 15.0, 21.0, 30.0, 40.0, 48.0}))
BANK_BLURS = (0.0, 0.5, 0.8)  # Gaussian sigma in output pixels
BANK_OFFSETS = tuple((x, y) for x in (0.0, 0.25, 0.5) for y in (0.0, 0.25, 0.5))  # sub-pixel centres
_SUPERSAMPLE = 8
SIDE_TOLERANCE = 1.35  # compare with templates whose side is within this factor of the object's


def _synthetic_coverage(shape: str, side: float, blur: float, offset: tuple[float, float]) -> np.ndarray:
    """Coverage of one shape drawn like the renderer does, in a crop with room for blur."""
    crop = int(side + 6)
    canvas = Image.new("L", (crop * _SUPERSAMPLE, crop * _SUPERSAMPLE), 0)
    cx, cy = ((crop / 2 + o) * _SUPERSAMPLE for o in offset)
    draw_shape(ImageDraw.Draw(canvas), shape, cx, cy, side / 2 * _SUPERSAMPLE, 255)
    small = canvas.reduce(_SUPERSAMPLE)
    if blur:
        small = small.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(small, dtype=np.float32) / 255.0


@cache
def template_bank() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Templates sorted by measured side: (flattened (N, 64), squared norms (N,), shape indices, sides)."""
    templates, labels, sides = [], [], []
    for index, shape in enumerate(SHAPES):
        for side in BANK_SIDES:
            for blur in BANK_BLURS:
                for offset in BANK_OFFSETS:
                    alpha = _synthetic_coverage(shape, side, blur, offset)
                    box = coverage_box(alpha)
                    templates.append(resample(alpha, box, (TEMPLATE_CELLS, TEMPLATE_CELLS)).ravel())
                    labels.append(index)
                    sides.append(max(box[2] - box[0], box[3] - box[1]))
    order = np.argsort(sides)
    flat = np.stack(templates)[order].astype(np.float64)
    return flat, (flat * flat).sum(axis=1), np.array(labels)[order], np.array(sides)[order]


def classify_shape(cells: np.ndarray, side_px: float) -> int:
    """Index into SHAPES of the template nearest to ``cells`` among those of a similar side."""
    flat, norms, labels, sides = template_bank()
    low, high = np.searchsorted(sides, [side_px / SIDE_TOLERANCE, side_px * SIDE_TOLERANCE])
    if low >= high:
        low, high = 0, len(sides)
    cells = cells.ravel().astype(np.float64)
    distances = norms[low:high] - 2.0 * (flat[low:high] @ cells)  # |t - c|^2 less the constant |c|^2
    return int(labels[low + int(distances.argmin())])
