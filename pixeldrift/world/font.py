"""A 5 x 7 bitmap font of the capitals A-Z, drawn for this project.

Owning the glyphs makes text rendering identical on every machine (no system
font) and lets the verifier read words by template matching. Two rules make
that reading exact: every glyph touches all four sides of its 5 x 7 box (so the
ink's bounding box gives the cell size and letter count), and any two glyphs
differ in at least three cells.
"""

from functools import cache

import numpy as np

GLYPH_WIDTH, GLYPH_HEIGHT = 5, 7
LETTER_PITCH = GLYPH_WIDTH + 1  # one blank column between letters
LINE_GAP = 2  # blank rows between the lines of a sentence; a space between words is one blank letter

_GLYPH_ROWS: dict[str, str] = {
    "A": ".XXX. X...X X...X XXXXX X...X X...X X...X",
    "B": "XXXX. X...X X...X XXXX. X...X X...X XXXX.",
    "C": ".XXXX X.... X.... X.... X.... X.... .XXXX",
    "D": "XXX.. X..X. X...X X...X X...X X..X. XXX..",
    "E": "XXXXX X.... X.... XXXX. X.... X.... XXXXX",
    "F": "XXXXX X.... X.... XXXX. X.... X.... X....",
    "G": ".XXXX X.... X.... X.XXX X...X X...X .XXXX",
    "H": "X...X X...X X...X XXXXX X...X X...X X...X",
    "I": "XXXXX ..X.. ..X.. ..X.. ..X.. ..X.. XXXXX",
    "J": "XXXXX ...X. ...X. ...X. X..X. X..X. .XX..",
    "K": "X...X X..X. X.X.. XX... X.X.. X..X. X...X",
    "L": "X.... X.... X.... X.... X.... X.... XXXXX",
    "M": "X...X XX.XX X.X.X X.X.X X...X X...X X...X",
    "N": "X...X XX..X X.X.X X..XX X...X X...X X...X",
    "O": ".XXX. X...X X...X X...X X...X X...X .XXX.",
    "P": "XXXX. X...X X...X XXXX. X.... X.... X....",
    "Q": ".XXX. X...X X...X X...X X.X.X X..X. .XX.X",
    "R": "XXXX. X...X X...X XXXX. X.X.. X..X. X...X",
    "S": ".XXXX X.... X.... .XXX. ....X ....X XXXX.",
    "T": "XXXXX ..X.. ..X.. ..X.. ..X.. ..X.. ..X..",
    "U": "X...X X...X X...X X...X X...X X...X .XXX.",
    "V": "X...X X...X X...X X...X X...X .X.X. ..X..",
    "W": "X...X X...X X...X X.X.X X.X.X XX.XX X...X",
    "X": "X...X X...X .X.X. ..X.. .X.X. X...X X...X",
    "Y": "X...X X...X .X.X. ..X.. ..X.. ..X.. ..X..",
    "Z": "XXXXX ....X ...X. ..X.. .X... X.... XXXXX",
}
LETTERS = tuple(sorted(_GLYPH_ROWS))


@cache
def glyph(letter: str) -> np.ndarray:
    """The 7 x 5 bitmap of ``letter`` as a bool array (row 0 at the top)."""
    rows = _GLYPH_ROWS[letter].split()
    return np.array([[ch == "X" for ch in row] for row in rows], dtype=bool)


@cache
def glyph_stack() -> np.ndarray:
    """All glyphs in :data:`LETTERS` order as float32, shape (26, 7, 5)."""
    return np.stack([glyph(letter) for letter in LETTERS]).astype(np.float32)


def word_bitmap(word: str) -> np.ndarray:
    """The word as one bool bitmap of shape (7, 6 * len(word) - 1); a space is a blank letter."""
    bitmap = np.zeros((GLYPH_HEIGHT, LETTER_PITCH * len(word) - 1), dtype=bool)
    for i, letter in enumerate(word):
        if letter != " ":
            bitmap[:, i * LETTER_PITCH:i * LETTER_PITCH + GLYPH_WIDTH] = glyph(letter)
    return bitmap


def lines_bitmap(lines: list[str]) -> np.ndarray:
    """Lines of text one under the other, :data:`LINE_GAP` blank rows apart, each centred on the widest."""
    width = max(LETTER_PITCH * len(line) - 1 for line in lines)
    bitmap = np.zeros((len(lines) * (GLYPH_HEIGHT + LINE_GAP) - LINE_GAP, width), dtype=bool)
    for i, line in enumerate(lines):
        row, left = i * (GLYPH_HEIGHT + LINE_GAP), (width - LETTER_PITCH * len(line) + 1) // 2
        bitmap[row:row + GLYPH_HEIGHT, left:left + LETTER_PITCH * len(line) - 1] = word_bitmap(line)
    return bitmap
