"""Reading the text on a sign by matching the project's own bitmap font.

1. The board: the largest dark component; letters are the bright pixels inside its box.
2. Cell size: every glyph spans the full 7 font rows, so the ink's height is 7 cells;
   the letter count follows from the ink's width (6 cells per letter, less one).
3. The ink box is area-resampled onto that grid of cells, and each letter's 5 x 7
   cells are matched with the nearest glyph.

A sentence (:func:`read_lines`) is read line by line: lines are the ink's bands of
rows, each read as a word is, with a blank letter (a space) among the glyphs. A one-word
sign is read by :func:`read_text`, the reader every benchmark was measured with.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from pixeldrift.world.components import connected_components
from pixeldrift.world.font import GLYPH_HEIGHT, GLYPH_WIDTH, LETTER_PITCH, LETTERS, glyph_stack
from pixeldrift.world.read_pixels import UnreadableScene, luminance, resample

BOARD_LUMA = 0.45
INK_CONTRAST = 0.35  # a pixel is ink past this share of the way from board to letter brightness
LETTER_LUMA = 0.95


def read_text(pixels: np.ndarray) -> str:
    """The word on the sign, or :class:`UnreadableScene` saying why none could be read."""
    ink = _board_ink(pixels)
    rows, cols = np.nonzero(ink > INK_CONTRAST)
    if rows.size == 0:
        raise UnreadableScene("the sign board carries no letters")
    return _read_line(ink, (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1), spaces=False)


def read_lines(pixels: np.ndarray) -> list[str]:
    """The sign's lines of text from top to bottom (words one space apart), or :class:`UnreadableScene`."""
    ink = _board_ink(pixels)
    inked = ink > INK_CONTRAST
    rows = np.flatnonzero(inked.any(axis=1))
    if rows.size == 0:
        raise UnreadableScene("the sign board carries no letters")
    breaks = np.flatnonzero(np.diff(rows) > 1)
    lines = []
    for top, bottom in zip(rows[np.r_[0, breaks + 1]], rows[np.r_[breaks, rows.size - 1]] + 1):
        cols = np.flatnonzero(inked[top:bottom].any(axis=0))
        lines.append(" ".join(_read_line(ink, (cols.min(), top, cols.max() + 1, bottom), spaces=True).split()))
    if not any(lines):
        raise UnreadableScene("the sign's ink matches no letters")
    return [line for line in lines if line]  # a band of faint ink nearest the blank letter is no line


def _board_ink(pixels: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (1: as bright as a letter) over the box of the largest dark component."""
    luma = luminance(pixels)
    boards = connected_components(luma < BOARD_LUMA, min_area=12)
    if not boards:
        raise UnreadableScene("no dark sign board found")
    x0, y0, x1, y1 = boards[0].box
    board_luma = float(np.median(luma[boards[0].ys, boards[0].xs]))
    inside = luma[y0:y1 + 1, x0:x1 + 1]
    return np.clip((inside - board_luma) / max(LETTER_LUMA - board_luma, 0.2), 0.0, 1.0)


def _read_line(ink: np.ndarray, box, spaces: bool) -> str:
    """The letters (and with ``spaces``, blank letters as spaces) of one line of ink in ``box``."""
    left, top, right, bottom = box
    cell = (bottom - top) / GLYPH_HEIGHT
    letters = round(((right - left) / cell + 1) / LETTER_PITCH)
    if letters < 1 or abs((right - left) - (LETTER_PITCH * letters - 1) * cell) > cell:
        raise UnreadableScene(f"the sign's ink ({right - left} x {bottom - top} pixels) does not fit whole letters")
    cells = resample(ink, (left, top, right, bottom), (GLYPH_HEIGHT, LETTER_PITCH * letters - 1))
    return "".join(_nearest_letter(cells[:, i * LETTER_PITCH:i * LETTER_PITCH + GLYPH_WIDTH], spaces)
                   for i in range(letters))


def _nearest_letter(cells: np.ndarray, spaces: bool = False) -> str:
    glyphs, names = (_glyphs_and_space(), LETTERS + (" ",)) if spaces else (glyph_stack(), LETTERS)
    distances = np.square(glyphs - cells).sum(axis=(1, 2))
    return names[int(distances.argmin())]


@cache
def _glyphs_and_space() -> np.ndarray:
    return np.concatenate([glyph_stack(), np.zeros((1, GLYPH_HEIGHT, GLYPH_WIDTH), np.float32)])
