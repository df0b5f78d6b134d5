"""Control maps drawn from a scene line up with the scene's picture."""

from __future__ import annotations

import numpy as np

from pixeldrift.world import ClockScene, ObjectGroup, ObjectsScene, QuantityScene, TextScene, render
from pixeldrift.world.control_maps import NEUTRAL_RGB, clock_map, glyph_map, layout_map

OBJECTS = ObjectsScene((ObjectGroup("star", "red", count=2), ObjectGroup("circle", "blue")), relation="left of")


def test_layout_keeps_every_object_pixel_and_only_changes_the_background():
    picture, layout = render(OBJECTS, 64, 7), layout_map(OBJECTS, 64, 7)
    background = picture[0, 0]
    objects = np.all(picture == (220, 40, 40), axis=-1) | np.all(picture == (40, 80, 220), axis=-1)  # inside
    assert objects.sum() > 50 and np.array_equal(layout[objects], picture[objects])
    assert np.all(layout[~objects & np.all(picture == background, axis=-1)] == NEUTRAL_RGB)
    assert not np.array_equal(layout_map(OBJECTS, 64, 8), layout)  # another seed, another layout


def test_glyph_is_the_signs_letters_in_black_where_the_sign_shows_them():
    sign = TextScene("HELLO")
    picture, glyph = render(sign, 64, 3), glyph_map(sign, 64, 3)
    letters = np.all(picture == (248, 248, 240), axis=-1)
    assert letters.sum() > 20 and np.all(glyph[letters] == 0) and np.all(glyph[~letters] == 255)
    assert np.all(glyph_map(OBJECTS, 64, 3) == 255)  # no sign, no text


def test_clock_sketches_the_hands_inside_the_face_and_nothing_without_a_clock():
    clock = ClockScene(3, 0)
    picture, sketch = render(clock, 64, 5), clock_map(clock, 64, 5)
    ink = sketch[:, :, 0] < 128
    face_or_rim = np.any(picture != picture[0, 0], axis=-1)
    assert ink.sum() > 30 and np.all(face_or_rim[ink])
    assert np.all(clock_map(QuantityScene((1, 4)), 64, 5) == 255)
    assert not np.array_equal(clock_map(ClockScene(9, 30), 64, 5), sketch)  # other hands
