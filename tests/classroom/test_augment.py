"""Prompt augmentation: the rewrite says what was asked in the training captions' long form, and names its choices."""

import random
from dataclasses import replace

import pytest

from pixeldrift.classroom.augment import augment, short_prompt_set
from pixeldrift.world import (COLOURS, HELDOUT_PROMPTS, ObjectsScene, PromptError, benchmark_category, caption,
                              is_held_out, parse_prompt, resolve_wildcards)
from pixeldrift.world.wildcards import is_fully_specified

SHORT = [prompt for _category, prompt in short_prompt_set()]


def _agrees(asked, chosen) -> bool:
    """Every attribute the prompt gave is kept: filling the chosen spec's values in for asked's wildcards
    gives the chosen spec back."""
    if isinstance(asked, ObjectsScene):
        groups = tuple(replace(g, **{a: getattr(c, a) for a in ("shape", "colour", "size") if getattr(g, a) is None})
                       for g, c in zip(asked.groups, chosen.groups))
        asked = replace(asked, groups=groups)
    fields = {"background": chosen.background} if asked.background is None else {}
    if getattr(asked, "vessel", "") is None:
        fields["vessel"] = chosen.vessel
    return replace(asked, **fields) == chosen


@pytest.mark.parametrize("prompt", SHORT)
def test_the_explicit_rewrite_is_a_long_caption_of_a_full_spec_that_keeps_what_was_asked(prompt):
    rewrite = augment(prompt, seed=3)
    assert rewrite.prompt == caption(rewrite.spec, "long")
    assert parse_prompt(rewrite.prompt) == rewrite.spec
    assert is_fully_specified(rewrite.spec)
    assert _agrees(parse_prompt(prompt), rewrite.spec)


@pytest.mark.parametrize("prompt", SHORT)
def test_the_phrasing_rewrite_says_exactly_what_was_asked(prompt):
    rewrite = augment(prompt, fill="phrasing")
    assert rewrite.spec == parse_prompt(prompt) == parse_prompt(rewrite.prompt)
    assert all(choice.endswith("left to the model") for choice in rewrite.choices)


def test_held_out_words_become_trained_ones():
    rewrite = augment("a little red circle directly above a huge blue square", fill="phrasing")
    assert rewrite.prompt == "a small red circle above a large blue square"
    assert augment("a clock face that reads 3:40", fill="phrasing").prompt == "an analog clock showing 3:40"
    assert augment("a sign reading ZEBRA", fill="phrasing").prompt == "a sign that says ZEBRA"


def test_each_open_attribute_is_named_with_its_choice():
    rewrite = augment("three stars", seed=5)
    group = rewrite.spec.groups[0]
    assert rewrite.choices == (f"colour of the stars: {group.colour}", f"size of the stars: {group.size}",
                               f"background: {rewrite.spec.background}")
    assert augment("a large red star on a white background").choices == ()
    assert rewrite.describe().startswith("explicit: colour of the stars: ")


def test_choices_follow_the_seed_uniformly_not_a_fixed_favourite():
    colours = [augment("a circle", seed=s).spec.groups[0].colour for s in range(200)]
    assert set(colours) == set(COLOURS) - {"yellow"}   # a yellow circle is held out: redrawn
    assert max(colours.count(c) for c in set(colours)) < 200 * 0.2
    assert augment("a circle", seed=7) == augment("a circle", seed=7)


def test_held_out_combinations_are_avoided_when_the_prompt_allows_another():
    # a plain draw would make a purple star for some seeds; the rewrite never does
    plain = [resolve_wildcards(parse_prompt("a star"), random.Random(s)).groups[0].colour for s in range(100)]
    assert "purple" in plain
    assert all(not is_held_out(augment("a star", seed=s).spec) for s in range(100))
    # and kept when the prompt itself asks for one
    assert augment("a purple star", seed=1).spec.groups[0].colour == "purple"


def test_bad_input_is_refused_by_name():
    with pytest.raises(PromptError, match="dragon"):
        augment("a dragon")
    with pytest.raises(ValueError, match="fill"):
        augment("a star", fill="creative")
    with pytest.raises(ValueError, match="seed"):
        augment("a star", seed="1")
    with pytest.raises(PromptError):
        augment("")


def test_the_short_prompt_set_is_the_held_out_split_in_other_words():
    pairs = short_prompt_set()
    assert len({p for _c, p in pairs}) == len(pairs)
    assert all(benchmark_category(parse_prompt(p)) == c for c, p in pairs)
    assert {c for c, _p in pairs} == {c for c, _p in HELDOUT_PROMPTS}
    texts = " ".join(p for _c, p in pairs)
    for held_out_words in ("little", "huge", "directly", "a clock face that reads", "a sign reading", "just"):
        assert held_out_words in texts
