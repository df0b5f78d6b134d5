"""The held-out split: training never shows it, the benchmark covers every category with it."""

import random

from pixeldrift.world import (CATEGORIES, COLOURS, HELDOUT_PROMPTS, SHAPES, ClockScene, ObjectGroup, ObjectsScene,
                              QuantityScene, TextScene, benchmark_category, is_held_out, parse_prompt,
                              resolve_wildcards, sample_spec)
from pixeldrift.world.heldout import COLOUR_SHAPES, SHAPE_COUNTS, TIMES, WORDS


def test_training_stream_never_produces_a_held_out_combination():
    rng = random.Random(2024)
    specs = [sample_spec(rng) for _ in range(20000)]
    assert not any(is_held_out(s) for s in specs)
    # Everything else does appear: every kind, colour-shape pair and clock time that is not held out.
    assert {s.kind for s in specs} == {"objects", "clock", "quantity", "text"}
    pairs = {(g.colour, g.shape) for s in specs if isinstance(s, ObjectsScene) for g in s.groups}
    assert pairs == {(c, s) for c in COLOURS for s in SHAPES} - COLOUR_SHAPES
    times = {(s.hour, s.minute) for s in specs if isinstance(s, ClockScene)}
    assert times == {(h, m) for h in range(1, 13) for m in range(0, 60, 5)} - TIMES


def test_held_out_combinations_are_detected_wherever_they_appear():
    purple_star = ObjectGroup("star", "purple", "small")
    assert ("purple", "star") in COLOUR_SHAPES and ("star", 5) in SHAPE_COUNTS
    assert is_held_out(ObjectsScene((ObjectGroup("circle", "red", "small", 2), purple_star), background="white"))
    # Five stars in total, split over two colours.
    assert is_held_out(ObjectsScene((ObjectGroup("star", "red", "small", 3), ObjectGroup("star", "blue", "large", 2))))
    # A relation and its mirror phrasing.
    above = ObjectsScene((ObjectGroup("star", "red"), ObjectGroup("circle", "blue")), relation="above")
    below = ObjectsScene((ObjectGroup("circle", "blue"), ObjectGroup("star", "red")), relation="below")
    assert is_held_out(above) and is_held_out(below)
    assert (10, 10) in TIMES and is_held_out(ClockScene(10, 10)) and not is_held_out(ClockScene(10, 15))
    assert "DRIFT" in WORDS and is_held_out(TextScene("DRIFT")) and not is_held_out(TextScene("DRIFTS"))
    assert is_held_out(QuantityScene((0, 1, 2, 3, 4), "bar")) and not is_held_out(QuantityScene((0, 1, 2, 3, 3)))


def test_held_out_prompts_cover_every_category_and_are_held_out_however_filled_in():
    categories = {category for category, _ in HELDOUT_PROMPTS}
    assert categories == set(CATEGORIES)
    rng = random.Random(5)
    for category, prompt in HELDOUT_PROMPTS:
        spec = parse_prompt(prompt)
        assert benchmark_category(spec) == category, prompt
        assert all(is_held_out(resolve_wildcards(spec, rng)) for _ in range(20)), prompt


def test_held_out_split_sampler_only_gives_held_out_specs():
    rng = random.Random(9)
    assert all(is_held_out(sample_spec(rng, "heldout")) for _ in range(500))
