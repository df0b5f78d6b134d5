"""Captions and the prompt parser: every caption reads back to the spec it came from."""

import pytest

from pixeldrift.world import (STYLES, ClockScene, ObjectGroup, ObjectsScene, PromptError, QuantityScene, TextScene,
                              caption, parse_prompt)
from pixeldrift.world.wildcards import is_fully_specified
from world_cases import seeded_specs


def _agrees(partial, full) -> bool:
    """Every attribute the partial spec states equals the full spec's."""
    if type(partial) is not type(full):
        return False
    if partial.background not in (None, full.background):
        return False
    if isinstance(full, ObjectsScene):
        return partial.relation == full.relation and len(partial.groups) == len(full.groups) and all(
            p.count == f.count and all(getattr(p, a) in (None, getattr(f, a)) for a in ("shape", "colour", "size"))
            for p, f in zip(partial.groups, full.groups))
    if isinstance(full, QuantityScene):
        return partial.fills == full.fills and partial.vessel in (None, full.vessel)
    if isinstance(full, ClockScene):
        return (partial.hour, partial.minute) == (full.hour, full.minute)
    return partial.word == full.word


def test_every_style_of_many_random_specs_parses_back():
    for spec in seeded_specs(1500, seed=11):
        assert parse_prompt(caption(spec, "long")) == spec
        for style in STYLES:
            text = caption(spec, style)
            parsed = parse_prompt(text)
            assert _agrees(parsed, spec), (text, parsed)
            assert caption(parsed, style) == text


def test_sampled_specs_are_fully_specified():
    assert all(is_fully_specified(spec) for spec in seeded_specs(300, seed=12))


@pytest.mark.parametrize("prompt, spec", [
    ("3 red circles", ObjectsScene((ObjectGroup("circle", "red", None, 3),))),
    ("three small red circles on a light grey background",
     ObjectsScene((ObjectGroup("circle", "red", "small", 3),), background="light grey")),
    ("a red circle to the left of a blue square",
     ObjectsScene((ObjectGroup("circle", "red"), ObjectGroup("square", "blue")), relation="left of")),
    ("a blue square between a red circle and a green star",
     ObjectsScene((ObjectGroup("square", "blue"), ObjectGroup("circle", "red"), ObjectGroup("star", "green")),
                  relation="between")),
    ("two crosses, a star and eight... ", None),
    ("an analog clock showing 11:25", ClockScene(11, 25)),
    ("a clock showing twenty-five to twelve", ClockScene(11, 35)),
    ("a clock showing quarter to one", ClockScene(12, 45)),
    ("a clock at 3:00", ClockScene(3, 0)),
    ("five glasses: empty, quarter, half, three quarters, full", QuantityScene((0, 1, 2, 3, 4), "glass")),
    ("a row of two bars filled full and empty", QuantityScene((4, 0), "bar")),
    ("a sign that says HELLO", TextScene("HELLO")),
    ("A sign that says hello.", TextScene("HELLO")),
    ("the word GO on a sign on a cream background", TextScene("GO", "cream")),
])
def test_examples_from_the_issue_parse_to_the_expected_specs(prompt, spec):
    if spec is None:
        with pytest.raises(PromptError):
            parse_prompt(prompt)
    else:
        assert parse_prompt(prompt) == spec


@pytest.mark.parametrize("prompt, reason", [
    ("", "empty"),
    ("nine stars", "count: 9"),
    ("three fluffy circles", "'fluffy'"),
    ("two hexagons", "shape 'hexagons'"),
    ("a circles", "does not agree"),
    ("an analog clock showing 13:70", "hour: 13"),
    ("an analog clock showing 11:23", "minute: 23"),
    ("a clock showing teatime", "time"),
    ("six glasses: full, full, full, full, full, full", "number of vessels: 6"),
    ("three glasses: full, empty", "3 vessels announced but 2"),
    ("two cups: full, empty", "vessel 'cups'"),
    ("two glasses: full, brimming", "fill level 'brimming'"),
    ("a sign that says HELLO123", "word"),
    ("a star between a circle", "between"),
    ("a red star to the left of a red star", "relation"),
    ("a photo of a cat", "shape 'cat'"),
    ("a fluffy star", "'fluffy' in 'a fluffy star' is not a size or colour"),
])
def test_unparseable_prompts_are_reported_with_a_reason(prompt, reason):
    with pytest.raises(PromptError) as error:
        parse_prompt(prompt)
    assert reason in str(error.value)
    assert isinstance(error.value, ValueError)
