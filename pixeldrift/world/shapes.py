"""Shape outlines in a unit box, and their coverage templates for the verifier.

Every shape exactly fills the box [-1, 1] x [-1, 1] in both directions, upright
and unrotated, so the size of an object is the side of its bounding box and its
kind can be told by how it covers that box (:func:`coverage_template`).
"""

from functools import cache
import math

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.world.spec import SHAPES

Polygon = list[tuple[float, float]]
TEMPLATE_CELLS = 8  # the verifier compares shapes on an 8 x 8 grid over the bounding box
_CROSS_ARM = 1.0 / 3.0  # half-width of a cross arm, as a fraction of the half-side


def _star() -> Polygon:
    """Five-pointed star, inner radius 0.45 of the outer, stretched to fill the box."""
    points = []
    for k in range(10):
        radius = 1.0 if k % 2 == 0 else 0.45
        angle = math.radians(-90 + 36 * k)
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_half, y_mid, y_half = max(xs), (max(ys) + min(ys)) / 2, (max(ys) - min(ys)) / 2
    return [(x / x_half, (y - y_mid) / y_half) for x, y in points]


def _cross() -> Polygon:
    a = _CROSS_ARM
    return [(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1), (-a, a), (-1, a), (-1, -a), (-a, -a)]


# The circle is drawn as an ellipse, every other shape as a polygon.
POLYGONS: dict[str, Polygon] = {
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    "triangle": [(0, -1), (1, 1), (-1, 1)],
    "diamond": [(0, -1), (1, 0), (0, 1), (-1, 0)],
    "cross": _cross(),
    "star": _star(),
}


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, half: float, fill,
               half_height: float | None = None) -> None:
    """Draw ``shape`` centred at (cx, cy) with half-side ``half``, in the draw's pixel units; with
    ``half_height``, stretched to fill a box of half-width ``half`` and that half-height."""
    half_x, half_y = half, half if half_height is None else half_height
    if shape == "circle":
        draw.ellipse((cx - half_x, cy - half_y, cx + half_x, cy + half_y), fill=fill)
        return
    # A polygon's far edge sits on its last vertex, one pixel short of an
    # ellipse's; shrinking the scale by half a pixel keeps all shapes the same size.
    scale_x, scale_y = half_x - 0.5, half_y - 0.5
    draw.polygon([(cx + x * scale_x, cy + y * scale_y) for x, y in POLYGONS[shape]], fill=fill)


@cache
def coverage_template(shape: str) -> np.ndarray:
    """Fraction of each of the 8 x 8 cells of the bounding box that ``shape`` covers."""
    side = TEMPLATE_CELLS * 32
    image = Image.new("L", (side, side), 0)
    draw_shape(ImageDraw.Draw(image), shape, side / 2, side / 2, side / 2, 255)
    cells = np.asarray(image, dtype=np.float32).reshape(TEMPLATE_CELLS, 32, TEMPLATE_CELLS, 32)
    return cells.mean(axis=(1, 3)) / 255.0


def all_templates() -> np.ndarray:
    """Templates of :data:`SHAPES` stacked in that order: shape (6, 8, 8)."""
    return np.stack([coverage_template(shape) for shape in SHAPES])
