"""Each reader on the full range of what it reads: every time, fill level, letter, shape and colour."""

import itertools

import pytest

from pixeldrift.world import COLOURS, FILL_NAMES, SHAPES, SIZES, ClockScene, QuantityScene, TextScene, render, verify
from pixeldrift.world.read_clock import read_clock
from pixeldrift.world.read_objects import read_objects
from pixeldrift.world.read_pixels import border_colour
from pixeldrift.world.read_text import read_text
from world_cases import single_object


@pytest.mark.parametrize("size", [64, 128])
def test_every_clock_time_reads_exactly(size):
    for hour, minute in itertools.product(range(1, 13), range(0, 60, 5)):
        seen = read_clock(render(ClockScene(hour, minute), size, hour * 60 + minute) / 255.0)
        assert (seen.hour, seen.minute) == (hour, minute)


@pytest.mark.parametrize("vessel", ["glass", "bar"])
@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_every_fill_level_reads_in_every_position(vessel, count):
    for level in range(5):
        for position in range(count):
            fills = tuple(level if i == position else (level + 2) % 5 for i in range(count))
            spec = QuantityScene(fills, vessel)
            result = verify(render(spec, 64, level * 7 + position), spec)
            assert result.ok, (fills, result.explain())


@pytest.mark.parametrize("size", [64, 128])
def test_every_letter_reads_at_every_word_length(size):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for length in range(2, 7):
        for start in range(0, 26, length):
            word = (alphabet[start:] + alphabet)[:length]
            assert read_text(render(TextScene(word), size, start) / 255.0) == word


def test_every_shape_colour_and_size_reads_back():
    for i, (shape, colour, size) in enumerate(itertools.product(SHAPES, COLOURS, SIZES)):
        pixels = render(single_object(shape, colour, size, background="light grey"), 64, i) / 255.0
        seen = read_objects(pixels, border_colour(pixels))
        assert [(o.shape, o.colour, o.size) for o in seen] == [(shape, colour, size)]


def test_fill_names_are_quarters():
    assert FILL_NAMES == ("empty", "quarter", "half", "three quarters", "full")
