"""Reading shapes back from pixels: segment, label, classify colour, size and shape.

1. Foreground: pixels farther than ``FOREGROUND_DISTANCE`` from the background colour.
2. Objects: 8-connected components of the foreground (the renderer keeps a gap).
3. Colour: the median of each object's most saturated "core" pixels, nearest palette entry.
4. Coverage ("alpha"): each pixel's share of the object colour against the background,
   which undoes anti-aliasing and blur.
5. Shape: the coverage resampled onto 8 x 8 cells of the bounding box, nearest of a
   bank of templates made by this same reader from clean and blurred renders of each
   shape at many pixel sizes (:mod:`pixeldrift.world.shape_bank`), so small, soft
   objects are compared with small, soft templates.
6. Size: the side of the box the covered area would fill for that shape, split half-way
   between the two sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixeldrift.world.components import Component, connected_components, grown_by_one_pixel
from pixeldrift.world.layout import SIZE_FRACTION
from pixeldrift.world.read_pixels import OBJECT_PALETTE, coverage_box, nearest, resample
from pixeldrift.world.shape_bank import classify_shape
from pixeldrift.world.shapes import TEMPLATE_CELLS, coverage_template
from pixeldrift.world.spec import COLOURS, SHAPES

FOREGROUND_DISTANCE = 0.2
CHROMA_WEIGHT = 0.1  # measured best of 1, 0.25, 0.1, 0.05 on noisy, blurred JPEGs
CORE_FRACTION = 0.85  # core pixels: at least this share of the object's largest distance from the background
SIZE_SPLIT = (SIZE_FRACTION["small"] + SIZE_FRACTION["large"]) / 2
# JPEG keeps colour (chroma) at half resolution and luma at full: coverage is
# measured in Y'CbCr with chroma differences down-weighted (ITU-R BT.601 matrix).
_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.1687, -0.3313, 0.5], [0.5, -0.4187, -0.0813]], dtype=np.float32)
LUMA_WEIGHTED_METRIC = _YCBCR.T @ np.diag(np.array([1.0, CHROMA_WEIGHT, CHROMA_WEIGHT], dtype=np.float32)) @ _YCBCR
FILL_FRACTION = [float(coverage_template(shape).mean()) for shape in SHAPES]  # area / box area


@dataclass(frozen=True)
class SeenObject:
    """One object as read from the image; centre in fractions of the image side."""

    shape: str
    colour: str
    size: str
    cx: float
    cy: float
    side: float  # side of the shape's box, fraction of the image

    def describe(self) -> str:
        return f"{self.size} {self.colour} {self.shape} at ({self.cx:.2f}, {self.cy:.2f})"


def core_distance(own: np.ndarray) -> float:
    """An object's own colour distance from the background: the median over its core pixels (those at least
    CORE_FRACTION of its largest distance), which blur and anti-aliased rims do not reach."""
    return float(np.median(own[own >= CORE_FRACTION * own.max()]))


def read_objects(pixels: np.ndarray, background: np.ndarray) -> list[SeenObject]:
    """All objects in ``pixels`` (float RGB, H x W x 3) against the ``background`` colour."""
    distance = np.linalg.norm(pixels - background, axis=2)
    min_area = max(3, round(6 * (pixels.shape[0] / 64) ** 2))
    components = connected_components(distance > FOREGROUND_DISTANCE, min_area=min_area)
    return [_read_one(pixels, distance, background, c) for c in components]


def _read_one(pixels: np.ndarray, distance: np.ndarray, background: np.ndarray, component: Component) -> SeenObject:
    own = distance[component.ys, component.xs]
    core = own >= CORE_FRACTION * own.max()
    colour_rgb = np.median(pixels[component.ys[core], component.xs[core]], axis=0)
    colour_index, _ = nearest(colour_rgb, OBJECT_PALETTE)
    alpha, offset = _coverage(pixels, background, colour_rgb, component)
    box = coverage_box(alpha)
    cells = resample(alpha, box, (TEMPLATE_CELLS, TEMPLATE_CELLS))
    shape_index = classify_shape(cells, max(box[2] - box[0], box[3] - box[1]))
    height = pixels.shape[0]
    # The side from the covered area, not the box: blur and JPEG move edges and
    # fade points, but they keep the object's total coverage.
    side = float(np.sqrt(alpha.sum() / FILL_FRACTION[shape_index])) / height
    return SeenObject(shape=SHAPES[shape_index], colour=COLOURS[colour_index],
                      size="small" if side < SIZE_SPLIT else "large",
                      cx=(offset[1] + (box[0] + box[2]) / 2) / height,
                      cy=(offset[0] + (box[1] + box[3]) / 2) / height, side=side)


def _coverage(pixels, background, colour_rgb, component: Component) -> tuple[np.ndarray, tuple[int, int]]:
    """Per-pixel coverage of the object's colour in a crop around it (one pixel of margin).

    Only pixels of the component or touching it count, so a neighbour's edge
    inside the crop is ignored. Returns the crop's coverage and its (row, col) offset.
    """
    x0, y0, x1, y1 = component.box
    height, width = pixels.shape[:2]
    y0, x0, y1, x1 = max(0, y0 - 1), max(0, x0 - 1), min(height, y1 + 2), min(width, x1 + 2)
    direction = (colour_rgb - background) @ LUMA_WEIGHTED_METRIC
    alpha = ((pixels[y0:y1, x0:x1] - background) @ direction) / max(float(direction @ (colour_rgb - background)), 1e-6)
    own = np.zeros(alpha.shape, dtype=bool)
    own[component.ys - y0, component.xs - x0] = True
    return np.clip(alpha, 0.0, 1.0) * grown_by_one_pixel(own), (y0, x0)
