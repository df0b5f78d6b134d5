"""The prompt parser: a prompt in the caption grammar back into a spec, or a reason why not.

It reads everything :mod:`caption` writes, in every style, and the other words
people use for the same things (see :mod:`paraphrase`): "exactly four", "a single",
"tiny"/"big", "left of" without "to the", "directly above", "a clock face that reads
3:40", "a sign reading ZEBRA", "a sign reading "THE CAT SAT ON MATS"" (a sentence is
quoted), "no circles, just one black square". It reads
nothing it would have to guess: an unknown word, a count above eight or a time
off the 5-minute grid raise :class:`PromptError` naming the word or construction
it could not read. Attributes a prompt does not mention become wildcards
(``None``) in the spec.
"""

from __future__ import annotations

import re

from pixeldrift.world.caption import MINUTE_WORDS, NUMBER_WORDS, plural
from pixeldrift.world.spec import (BACKGROUNDS, COLOURS, FILL_NAMES, SHAPES, VESSELS, ClockScene,
                                   ObjectGroup, ObjectsScene, QuantityScene, Scene, SpecError, TextScene)


class PromptError(ValueError):
    """A prompt outside the world's grammar; the message says which part could not be read."""


_BACKGROUND = re.compile(r"^(?P<body>.+?) on an? (?P<background>" + "|".join(BACKGROUNDS) + r") background$")
# A sign's text is one word, bare or in double quotes, or a sentence, which needs the quotes: everything
# between them is the sign's (a sign reading "THE CAT SAT ON MATS"); curly quotes read as straight ones.
_SIGN_LEAD = r"^(?:a sign (?:that says|that reads|saying|reading|with the words?)|a sign:) "
_SIGN_TEXT = r"(?P<{}>\"[^\"“”]*\"|“[^\"“”]*”|[^\s\"“”]+)"
_TEXT = re.compile(_SIGN_LEAD + _SIGN_TEXT.format("word") + "$|^the words? " + _SIGN_TEXT.format("word2")
                   + " on a sign$")
_UNQUOTED = re.compile(_SIGN_LEAD + "(?P<rest>.+)$|^the words? (?P<rest2>.+) on a sign$")
_CLOCK = re.compile(r"^(?:an analog clock|an analogue clock|a clock)(?: face)? "
                    r"(?:showing|at|that shows|that reads|reading) (?P<time>.+)$")
_QUANTITY = re.compile(r"^(?:a row of )?(?P<count>\S+) (?P<vessels>\S+)(?::| filled) (?P<levels>.+)$")
# "to the left of", "on the left of", "left of", each optionally after "directly".
_RELATION = re.compile(r" (?:directly )?(?:(?:to|on) the )?(?P<side>left|right) of | (?:directly )?(?P<vertical>above|below)"
                       r" | between ")
# Words a size can be written as.
SIZE_WORDS = {"small": "small", "tiny": "small", "little": "small", "large": "large", "big": "large",
              "huge": "large"}
_NEGATION = re.compile(r"^no (?P<absent>\w+), (?:just|only) (?P<rest>.+)$")
_SHAPE_NOUNS = {**{s: (s, False) for s in SHAPES}, **{plural(s): (s, True) for s in SHAPES},
                "shape": (None, False), "shapes": (None, True)}
_VESSEL_NOUNS = {**{plural(v): v for v in VESSELS}, "vessels": None}


def _normalise(prompt: str) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptError(f"prompt: {prompt!r} is empty; accepted: a phrase such as 'three red circles'")
    return re.sub(r"\s+", " ", prompt.strip()).rstrip(".").strip()


def parse_prompt(prompt: str) -> Scene:
    """The spec a prompt describes; :class:`PromptError` when the prompt is outside the grammar."""
    text = _normalise(prompt)
    lowered = text.lower()
    background = None
    match = _BACKGROUND.match(lowered)
    if match:
        background, lowered = match["background"], match["body"]
        text = text[:len(lowered)]
    try:
        return _parse_body(text, lowered, background)
    except SpecError as error:
        raise PromptError(f"cannot parse {prompt!r}: {error}") from None
    except PromptError as error:
        raise PromptError(f"cannot parse {prompt!r}: {error}") from None


def _parse_body(text: str, lowered: str, background: str | None) -> Scene:
    if match := _TEXT.match(lowered):
        group = "word" if match["word"] else "word2"
        words = text[match.start(group):match.end(group)]
        return TextScene((words[1:-1].strip() if words[0] in "\"“" else words).upper(), background)
    if match := _UNQUOTED.match(lowered):
        raise PromptError(f"sign text {match['rest'] or match['rest2']!r} is neither one word nor one sentence in "
                          'double quotes; accepted: a sign reading HELLO, a sign reading "THE CAT SAT ON MATS"')
    if match := _CLOCK.match(lowered):
        return ClockScene(*_parse_time(match["time"]), background)
    if match := _QUANTITY.match(lowered):
        if match["vessels"] not in _VESSEL_NOUNS:
            raise PromptError(f"vessel {match['vessels']!r} is not accepted; accepted: {', '.join(_VESSEL_NOUNS)}")
        return _parse_quantity(match, background)
    return _parse_objects(lowered, background)


def _number(word: str, what: str, low: int, high: int) -> int:
    if word.isascii() and word.isdigit():  # isdigit() alone accepts "²", which int() refuses
        value = int(word)
    elif word in NUMBER_WORDS:
        value = NUMBER_WORDS.index(word)
    else:
        raise PromptError(f"{what}: {word!r} is not a number; accepted: {low} to {high} in digits or words")
    if not low <= value <= high:
        raise PromptError(f"{what}: {value} is not accepted; accepted: {low} to {high}")
    return value


def _parse_time(words: str) -> tuple[int, int]:
    """"11:25", "twenty-five past eleven", "quarter to one", "three o'clock"."""
    if match := re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", words):
        return int(match[1]), int(match[2])  # out-of-range values are reported by ClockScene
    if words.endswith(" o'clock"):
        return _number(words[:-8], "hour", 1, 12), 0
    for minute, phrase in MINUTE_WORDS.items():
        if minute and words.startswith(phrase + " "):
            hour = _number(words[len(phrase) + 1:], "hour", 1, 12)
            return (hour if minute <= 30 else (hour - 2) % 12 + 1), minute
    raise PromptError(f"time: {words!r} is not a time; accepted: H:MM such as 11:25, or words such as "
                      "'twenty-five past eleven' in 5-minute steps")


def _split_list(text: str) -> list[str]:
    """"a, b and c" -> [a, b, c]."""
    head, sep, last = text.rpartition(" and ")
    return [*(p for p in head.split(", ")), last] if sep else text.split(", ")


def _parse_quantity(match: re.Match, background: str | None) -> QuantityScene:
    count = _number(match["count"], "number of vessels", 2, 5)
    levels = _split_list(match["levels"])
    unknown = [level for level in levels if level not in FILL_NAMES]
    if unknown:
        raise PromptError(f"fill level {unknown[0]!r} is not accepted; accepted: {', '.join(FILL_NAMES)}")
    if len(levels) != count:
        raise PromptError(f"{count} vessels announced but {len(levels)} fill levels given")
    return QuantityScene(tuple(FILL_NAMES.index(level) for level in levels), _VESSEL_NOUNS[match["vessels"]],
                         background)


def _parse_objects(text: str, background: str | None) -> ObjectsScene:
    if match := _NEGATION.match(text):
        return _parse_negation(match, background)
    text = text[5:] if text.startswith("only ") else text
    if match := _RELATION.search(text):
        relation = f"{match['side']} of" if match["side"] else match["vertical"] or "between"
        subject, rest = text[:match.start()], text[match.end():]
        others = rest.split(" and ") if relation == "between" else [rest]
        if relation == "between" and len(others) != 2:
            raise PromptError(f"'between' needs two objects joined by 'and', got {rest!r}")
        groups = tuple(_parse_group(p) for p in [subject, *others])
        return ObjectsScene(groups, relation=relation, background=background)
    return ObjectsScene(tuple(_parse_group(p) for p in _split_list(text)), background=background)


def _parse_negation(match: re.Match, background: str | None) -> ObjectsScene:
    """"no circles, just one black square": the verifier refuses any object the prompt does not name,
    so the spec is the rest, once it is sure the rest does not name the excluded shape."""
    absent = match["absent"]
    if absent not in _SHAPE_NOUNS or _SHAPE_NOUNS[absent][0] is None:
        raise PromptError(f"'no {absent}': only shapes can be excluded; accepted: {', '.join(map(plural, SHAPES))}")
    scene = _parse_objects(match["rest"], background)
    if any(g.shape == _SHAPE_NOUNS[absent][0] for g in scene.groups):
        raise PromptError(f"'no {absent}' contradicts {match['rest']!r}")
    return scene


def _parse_group(phrase: str) -> ObjectGroup:
    """"three small red circles", "a star", "2 blue crosses", "exactly four stars", "a single tiny star"."""
    words = phrase.split()
    if words[:1] == ["exactly"] or words[1:2] == ["single"]:
        words = words[1:] if words[0] == "exactly" else words[:1] + words[2:]
    if len(words) < 2:
        raise PromptError(f"{phrase!r} is not an object phrase; accepted: count, size, colour, shape, "
                          "as in 'three small red circles'")
    count = 1 if words[0] in ("a", "an") else _number(words[0], "count", 1, 8)
    noun = words[-1]
    if noun not in _SHAPE_NOUNS or any(word in _SHAPE_NOUNS for word in words[:-1]):
        raise PromptError(_unknown_noun(phrase, words))
    shape, is_plural = _SHAPE_NOUNS[noun]
    if is_plural != (count > 1):
        raise PromptError(f"{phrase!r}: the count {count} does not agree with {noun!r}")
    size = colour = None
    for word in words[1:-1]:
        if word in SIZE_WORDS and size is None and colour is None:
            size = SIZE_WORDS[word]
        elif word in COLOURS and colour is None:
            colour = word
        else:
            raise PromptError(f"{word!r} in {phrase!r} is not a size or colour; accepted sizes: "
                              f"{', '.join(SIZE_WORDS)}; colours: {', '.join(COLOURS)}")
    return ObjectGroup(shape=shape, colour=colour, size=size, count=count)


def _unknown_noun(phrase: str, words: list[str]) -> str:
    """The error for an object phrase that does not end in a shape: name what is not the world's."""
    if re.search(r"[0-9]:[0-9]", phrase):
        return f"{phrase!r}: a time needs a clock, as in 'a clock showing 3:40'"
    shape_at = next((i for i, word in enumerate(words[:-1]) if word in _SHAPE_NOUNS), None)
    if shape_at is not None:  # "five blue circles in a row": words after the shape
        return (f"{' '.join(words[shape_at + 1:])!r} after {' '.join(words[:shape_at + 1])!r} is not a "
                "construction the world knows; the arrangements it draws: left of, right of, above, below, between")
    return f"shape {words[-1]!r} is not accepted; accepted: {', '.join(SHAPES)} (or their plurals)"
