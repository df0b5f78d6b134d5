"""The bitmap font obeys the two rules the text reader relies on."""

import itertools

import numpy as np

from pixeldrift.world.font import GLYPH_HEIGHT, GLYPH_WIDTH, LETTERS, glyph, word_bitmap


def test_every_capital_has_a_glyph_touching_all_four_sides():
    assert "".join(LETTERS) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for letter in LETTERS:
        bitmap = glyph(letter)
        assert bitmap.shape == (GLYPH_HEIGHT, GLYPH_WIDTH)
        assert bitmap[0].any() and bitmap[-1].any() and bitmap[:, 0].any() and bitmap[:, -1].any(), letter


def test_glyphs_differ_in_at_least_three_cells():
    closest = min(int((glyph(a) != glyph(b)).sum()) for a, b in itertools.combinations(LETTERS, 2))
    assert closest >= 3


def test_word_bitmap_places_letters_one_blank_column_apart():
    bitmap = word_bitmap("HI")
    assert bitmap.shape == (7, 11)
    assert not bitmap[:, 5].any()
    assert np.array_equal(bitmap[:, :5], glyph("H")) and np.array_equal(bitmap[:, 6:], glyph("I"))
