"""Captions: several phrasings of one spec, all in the grammar that :mod:`parse` reads back.

Styles (attributes a style leaves out, or the spec leaves open, are not said):

======  =====================================  ===========================================
style   objects                                clock / quantity / text
======  =====================================  ===========================================
short   "3 red circles"                        "a clock at 11:25", "5 glasses: empty, ...",
                                               "a sign: HELLO" ("a sign: "THE CAT SAT"": a
                                               sentence is quoted in every style)
plain   "three red circles"                    "an analog clock showing 11:25",
                                               "five glasses: empty, ...", "a sign that says HELLO"
bare    "three circles" (no colour)            "a clock showing twenty-five past eleven",
                                               "five glasses filled empty, ... and full",
                                               "the word HELLO on a sign"
long    "three small red circles on a light    "... on a light grey background", quantity as
        grey background"                       "a row of five glasses filled ..."
======  =====================================  ===========================================

Relation scenes use the relation form in every style: "a red circle to the left of
a blue square", "a blue square between a red circle and a green star".
"""

from __future__ import annotations

import random

from pixeldrift.world.spec import (FILL_NAMES, ClockScene, ObjectGroup, ObjectsScene, QuantityScene, Scene,
                                   SpecError, TextScene)

STYLES = ("short", "plain", "bare", "long")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve")
RELATION_PHRASES = {"left of": "to the left of", "right of": "to the right of", "above": "above",
                    "below": "below", "between": "between"}
# Minutes past the hour in words; from 35 on they count to the next hour.
MINUTE_WORDS = {0: "o'clock", 5: "five past", 10: "ten past", 15: "quarter past", 20: "twenty past",
                25: "twenty-five past", 30: "half past", 35: "twenty-five to", 40: "twenty to",
                45: "quarter to", 50: "ten to", 55: "five to"}


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith("ss") or noun == "cross" else "s")


def join_list(phrases: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def group_phrase(group: ObjectGroup, style: str = "plain") -> str:
    """"three small red circles", "a star", "2 blue crosses" for one group in ``style``."""
    words = [group.size if style == "long" else None, None if style == "bare" else group.colour]
    noun = group.shape or "shape"
    body = " ".join([w for w in words if w] + [noun if group.count == 1 else plural(noun)])
    if group.count == 1:
        return f"{article(body)} {body}"
    return f"{group.count if style == 'short' else NUMBER_WORDS[group.count]} {body}"


def _objects_caption(spec: ObjectsScene, style: str) -> str:
    phrases = [group_phrase(g, style) for g in spec.groups]
    if spec.relation == "between":
        return f"{phrases[0]} between {phrases[1]} and {phrases[2]}"
    if spec.relation:
        return f"{phrases[0]} {RELATION_PHRASES[spec.relation]} {phrases[1]}"
    return join_list(phrases)


def clock_words(hour: int, minute: int) -> str:
    """"twenty-five past eleven", "quarter to one", "three o'clock"."""
    if minute == 0:
        return f"{NUMBER_WORDS[hour]} o'clock"
    named_hour = hour if minute <= 30 else hour % 12 + 1
    return f"{MINUTE_WORDS[minute]} {NUMBER_WORDS[named_hour]}"


def _clock_caption(spec: ClockScene, style: str) -> str:
    digits = f"{spec.hour}:{spec.minute:02d}"
    if style == "short":
        return f"a clock at {digits}"
    if style == "bare":
        return f"a clock showing {clock_words(spec.hour, spec.minute)}"
    return f"an analog clock showing {digits}"


def _quantity_caption(spec: QuantityScene, style: str) -> str:
    count = len(spec.fills)
    vessels = plural(spec.vessel or "vessel")
    levels = [FILL_NAMES[q] for q in spec.fills]
    if style == "short":
        return f"{count} {vessels}: {', '.join(levels)}"
    if style == "plain":
        return f"{NUMBER_WORDS[count]} {vessels}: {', '.join(levels)}"
    lead = "a row of " if style == "long" else ""
    return f"{lead}{NUMBER_WORDS[count]} {vessels} filled {join_list(levels)}"


def sign_text(word: str) -> str:
    """A sign's text as a prompt writes it: a word bare, a sentence in double quotes."""
    return f'"{word}"' if " " in word else word


def _text_caption(spec: TextScene, style: str) -> str:
    text, noun = sign_text(spec.word), "words" if spec.is_sentence else "word"
    return {"short": f"a sign: {text}", "bare": f"the {noun} {text} on a sign"}.get(style, f"a sign that says {text}")


_BY_KIND = {ObjectsScene: _objects_caption, ClockScene: _clock_caption, QuantityScene: _quantity_caption,
            TextScene: _text_caption}


def caption(spec: Scene, style: str = "plain") -> str:
    """The caption of ``spec`` in ``style`` (one of :data:`STYLES`)."""
    if style not in STYLES:
        raise SpecError(f"style: {style!r} is not accepted; accepted: {', '.join(STYLES)}")
    text = _BY_KIND[type(spec)](spec, style)
    if style == "long" and spec.background:
        text += f" on a {spec.background} background"
    return text
