"""The world's colours: one fixed, well-separated palette shared by renderer and verifier.

Object colours are saturated or dark, backgrounds are pale, so "is this pixel
part of an object?" is a distance from the background and "which colour is it?"
is a nearest-neighbour look-up. The render seed jitters the background by at most
``BACKGROUND_JITTER`` per channel, far less than the gaps between backgrounds.
"""

import numpy as np

OBJECT_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (235, 205, 25),
    "green": (40, 160, 60),
    "cyan": (30, 185, 205),
    "blue": (40, 80, 220),
    "purple": (140, 60, 190),
    "pink": (240, 110, 185),
    "brown": (125, 75, 35),
    "black": (30, 30, 30),
}

BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "white": (250, 250, 250),
    "light grey": (212, 212, 212),
    "cream": (245, 234, 200),
    "light blue": (205, 225, 245),
}
BACKGROUND_JITTER = 5

# Fixed inks of the other scene kinds: dark outlines and hands, liquids, sign boards.
INK_RGB = (35, 35, 40)
CLOCK_FACE_RGB = (252, 252, 248)
LIQUID_RGB = {"glass": (70, 150, 230), "bar": (60, 175, 85)}
SIGN_BOARD_RGB = ((30, 45, 100), (25, 85, 45), (120, 25, 25), (30, 30, 30))
SIGN_LETTER_RGB = (248, 248, 240)


def palette_array(names: tuple[str, ...], table: dict[str, tuple[int, int, int]]) -> np.ndarray:
    """The colours of ``names`` as a float32 array of shape (len(names), 3) in [0, 1]."""
    return np.array([table[name] for name in names], dtype=np.float32) / 255.0
