"""Reading the word on a sign by matching the project's own bitmap font.

1. The board: the largest dark component; letters are the bright pixels inside its box.
2. Cell size: every glyph spans the full 7 font rows, so the ink's height is 7 cells;
   the letter count follows from the ink's width (6 cells per letter, less one).
3. The ink box is area-resampled onto that grid of cells, and each letter's 5 x 7
   cells are matched with the nearest glyph.
"""

from __future__ import annotations

import numpy as np

from pixeldrift.world.components import connected_components
from pixeldrift.world.font import GLYPH_HEIGHT, GLYPH_WIDTH, LETTER_PITCH, LETTERS, glyph_stack
from pixeldrift.world.read_pixels import UnreadableScene, luminance, resample

BOARD_LUMA = 0.45
INK_CONTRAST = 0.35  # a pixel is ink past this share of the way from board to letter brightness
LETTER_LUMA = 0.95


def read_text(pixels: np.ndarray) -> str:
    """The word on the sign, or :class:`UnreadableScene` saying why none could be read."""
    luma = luminance(pixels)
    boards = connected_components(luma < BOARD_LUMA, min_area=12)
    if not boards:
        raise UnreadableScene("no dark sign board found")
    x0, y0, x1, y1 = boards[0].box
    board_luma = float(np.median(luma[boards[0].ys, boards[0].xs]))
    inside = luma[y0:y1 + 1, x0:x1 + 1]
    ink = np.clip((inside - board_luma) / max(LETTER_LUMA - board_luma, 0.2), 0.0, 1.0)
    rows, cols = np.nonzero(ink > INK_CONTRAST)
    if rows.size == 0:
        raise UnreadableScene("the sign board carries no letters")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    cell = (bottom - top) / GLYPH_HEIGHT
    letters = round(((right - left) / cell + 1) / LETTER_PITCH)
    if letters < 1 or abs((right - left) - (LETTER_PITCH * letters - 1) * cell) > cell:
        raise UnreadableScene(f"the sign's ink ({right - left} x {bottom - top} pixels) does not fit whole letters")
    cells = resample(ink, (left, top, right, bottom), (GLYPH_HEIGHT, LETTER_PITCH * letters - 1))
    return "".join(_nearest_letter(cells[:, i * LETTER_PITCH:i * LETTER_PITCH + GLYPH_WIDTH])
                   for i in range(letters))


def _nearest_letter(cells: np.ndarray) -> str:
    distances = np.square(glyph_stack() - cells).sum(axis=(1, 2))
    return LETTERS[int(distances.argmin())]
