"""Small pixel helpers shared by the verifier's readers."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixeldrift.world import palette
from pixeldrift.world.spec import BACKGROUNDS, COLOURS

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
BACKGROUND_PALETTE = palette.palette_array(BACKGROUNDS, palette.BACKGROUND_RGB)
OBJECT_PALETTE = palette.palette_array(COLOURS, palette.OBJECT_RGB)


class UnreadableScene(Exception):
    """The image does not show what a reader looks for; the message says what is missing."""


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of float RGB pixels in [0, 1]."""
    return pixels @ _LUMA


def border_colour(pixels: np.ndarray) -> np.ndarray:
    """Median colour of the one-pixel frame: the background, as long as scenes keep off the edges."""
    frame = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    return np.median(frame, axis=0)


def nearest(colour: np.ndarray, table: np.ndarray) -> tuple[int, float]:
    """Index of the row of ``table`` nearest to ``colour``, and its distance."""
    distances = np.linalg.norm(table - colour, axis=1)
    index = int(distances.argmin())
    return index, float(distances[index])


def resample(values: np.ndarray, box: tuple[float, float, float, float], cells: tuple[int, int]) -> np.ndarray:
    """Area-average ``values`` over ``box`` = (x0, y0, x1, y1) into (rows, cols) = ``cells``."""
    image = Image.fromarray(values.astype(np.float32), "F")
    return np.asarray(image.resize((cells[1], cells[0]), Image.BOX, box=box))


def coverage_box(alpha: np.ndarray) -> tuple[float, float, float, float]:
    """Sub-pixel bounding box (x0, y0, x1, y1) of a coverage crop, from its column and row peaks."""
    x0, x1 = _extent(alpha.max(axis=0))
    y0, y1 = _extent(alpha.max(axis=1))
    return x0, y0, x1, y1


def _extent(profile: np.ndarray) -> tuple[float, float]:
    """Edges of a coverage profile: a boundary pixel that is 30% covered moves the edge 0.3 pixel outwards."""
    inside = np.nonzero(profile >= 0.5)[0]
    if inside.size == 0:
        inside = np.array([int(profile.argmax())])
    first, last = int(inside[0]), int(inside[-1])
    before = profile[first - 1] if first > 0 else 0.0
    after = profile[last + 1] if last + 1 < profile.size else 0.0
    return first - float(before), last + 1 + float(after)
