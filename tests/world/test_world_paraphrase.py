"""Prompts in the words people write: every paraphrase reads back, and held-out phrasings stay out of training."""

from dataclasses import replace
import random

import pytest

from pixeldrift import world
from pixeldrift.world import ClockScene, ObjectGroup, ObjectsScene, PromptError, TextScene, parse_prompt
from world_cases import seeded_specs

HELD_OUT_WORDS = ("directly", "little", "huge", "sign reading", "that reads", ", just ")


@pytest.mark.parametrize("held_out", [False, True])
def test_every_paraphrase_reads_back_to_its_spec(held_out):
    rng = random.Random(3)
    for spec in seeded_specs(1500, seed=21):
        text = world.paraphrase(spec, rng, held_out=held_out)
        assert parse_prompt(text) == replace(spec, background=None), text


def test_training_captions_never_use_the_held_out_phrasings():
    rng = random.Random(4)
    captions = [world.random_caption(world.sample_spec(rng), rng) for _ in range(4000)]
    assert sum(style == "paraphrase" for _, style in captions) > 600
    assert not [text for text, _ in captions if any(word in text for word in HELD_OUT_WORDS)]


@pytest.mark.parametrize("prompt, spec", [
    ("exactly four purple stars", ObjectsScene((ObjectGroup("star", "purple", count=4),))),
    ("a single small green diamond", ObjectsScene((ObjectGroup("diamond", "green", "small"),))),
    ("a red square directly above a yellow circle",
     ObjectsScene((ObjectGroup("square", "red"), ObjectGroup("circle", "yellow")), relation="above")),
    ("a purple diamond left of a purple circle",
     ObjectsScene((ObjectGroup("diamond", "purple"), ObjectGroup("circle", "purple")), relation="left of")),
    ("one blue triangle below two green circles",
     ObjectsScene((ObjectGroup("triangle", "blue"), ObjectGroup("circle", "green", count=2)), relation="below")),
    ("a big orange circle and a small orange circle",
     ObjectsScene((ObjectGroup("circle", "orange", "large"), ObjectGroup("circle", "orange", "small")))),
    ("a clock face that reads 3:40", ClockScene(3, 40)),
    ("a sign reading ZEBRA", TextScene("ZEBRA")),
    ("no circles, just one black square", ObjectsScene((ObjectGroup("square", "black"),))),
    ("seven tiny black stars", ObjectsScene((ObjectGroup("star", "black", "small", 7),))),
])
def test_the_issues_phrasings_parse(prompt, spec):
    assert parse_prompt(prompt) == spec


@pytest.mark.parametrize("prompt, named", [
    ("five blue circles in a row", "'in a row' after 'five blue circles'"),
    ("two circles next to a star", "'next to a star'"),
    ("a star at 3:40", "a time needs a clock"),
    ("seven tiny white stars", "'white'"),
    ("no circles, just a red circle", "'no circles' contradicts"),
    ("no clouds, just a red circle", "only shapes can be excluded"),
])
def test_what_the_parser_cannot_read_is_named(prompt, named):
    with pytest.raises(PromptError, match=None) as error:
        parse_prompt(prompt)
    assert named in str(error.value)
