"""Other ways to say a scene: the words people write beside the caption grammar's own.

"exactly four purple stars", "a single tiny green diamond", "a red square left of
a circle", "a clock face showing 3:40", "a sign saying ZEBRA", "no circles, only
one black square". The parser reads every form here. Training captions use the
``TRAINED`` forms only; the ``HELD_OUT`` forms ("directly above", "little"/"huge",
"a sign reading ...", "a clock face that reads ...", "no circles, just ...") are
never drawn for training, so a benchmark of them measures whether the model
understands a phrasing it was never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
import random

from pixeldrift.world.caption import NUMBER_WORDS, STYLES, article, caption, join_list, plural, sign_text
from pixeldrift.world.spec import SHAPES, ClockScene, ObjectGroup, ObjectsScene, Scene, TextScene


@dataclass(frozen=True)
class Phrasings:
    """The alternative words of one split, chosen among at random."""

    sizes: dict[str, tuple[str, ...]]
    relations: dict[str, tuple[str, ...]]
    clock_leads: tuple[str, ...]
    sign_leads: tuple[str, ...]
    negation: str                        # "no circles, only ..." / "no circles, just ..."


TRAINED = Phrasings(sizes={"small": ("tiny",), "large": ("big",)},
                    relations={"left of": ("left of", "on the left of"), "right of": ("right of", "on the right of"),
                               "above": ("above",), "below": ("below",)},
                    clock_leads=("a clock face showing", "a clock reading", "a clock that shows"),
                    sign_leads=("a sign saying", "a sign with the word"), negation="only")
HELD_OUT = Phrasings(sizes={"small": ("little",), "large": ("huge",)},
                     relations={"left of": ("directly to the left of",), "right of": ("directly to the right of",),
                                "above": ("directly above",), "below": ("directly below",)},
                     clock_leads=("a clock face that reads",), sign_leads=("a sign reading", "a sign that reads"),
                     negation="just")


PARAPHRASE_SHARE = 0.25  # of training captions in other words


def random_caption(spec: Scene, rng: random.Random) -> tuple[str, str]:
    """A caption in a random style ("paraphrase" for other words), and the style's name: the training text."""
    if rng.random() < PARAPHRASE_SHARE:
        return paraphrase(spec, rng), "paraphrase"
    style = rng.choice(STYLES)
    return caption(spec, style), style


def paraphrase(spec: Scene, rng: random.Random, held_out: bool = False) -> str:
    """A caption of ``spec`` in other words than :func:`caption`'s (quantity scenes keep the plain one)."""
    words = HELD_OUT if held_out else TRAINED
    if isinstance(spec, ObjectsScene):
        return _objects(spec, rng, words)
    if isinstance(spec, ClockScene):
        return f"{rng.choice(words.clock_leads)} {spec.hour}:{spec.minute:02d}"
    if isinstance(spec, TextScene):
        return f"{rng.choice(words.sign_leads)} {sign_text(spec.word)}"
    return caption(spec, "plain")


def _group(group: ObjectGroup, rng: random.Random, words: Phrasings) -> str:
    size = rng.choice(words.sizes[group.size]) if group.size and rng.random() < 0.7 else group.size
    noun = group.shape if group.count == 1 else plural(group.shape)
    body = " ".join(w for w in (size, group.colour, noun) if w)
    if group.count == 1:
        return rng.choice([f"a single {body}", f"one {body}", f"{article(body)} {body}"])
    return rng.choice([f"exactly {NUMBER_WORDS[group.count]} {body}", f"{NUMBER_WORDS[group.count]} {body}"])


def _objects(spec: ObjectsScene, rng: random.Random, words: Phrasings) -> str:
    phrases = [_group(g, rng, words) for g in spec.groups]
    if spec.relation == "between":
        return f"{phrases[0]} between {phrases[1]} and {phrases[2]}"
    if spec.relation:
        return f"{phrases[0]} {rng.choice(words.relations[spec.relation])} {phrases[1]}"
    if rng.random() < 0.3:
        absent = [s for s in SHAPES if s not in {g.shape for g in spec.groups}]
        return f"no {plural(rng.choice(absent))}, {words.negation} {join_list(phrases)}"
    return join_list(phrases)
