"""Random scene specs: the training stream (held-out combinations excluded) or held-out ones.

``sample_spec(rng)`` draws a kind by :class:`SamplerWeights`, then a structure
within it (one object, two, a counted group, several groups, a relation), then
every attribute uniformly, and redraws while the spec contains a held-out
combination. The result is always fully specified (no wildcards).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import random

from pixeldrift.world.heldout import HELDOUT_PROMPTS, is_held_out
from pixeldrift.world.parse import parse_prompt
from pixeldrift.world.spec import (BACKGROUNDS, COLOURS, MAX_OBJECTS, MAX_RELATION_GROUP, MAX_RELATION_OBJECTS,
                                   MAX_VESSELS, MAX_WORD, MIN_VESSELS, MIN_WORD, MINUTE_STEP, RELATIONS, SHAPES, SIZES, VESSELS, ClockScene, ObjectGroup,
                                   ObjectsScene, QuantityScene, Scene, SpecError, TextScene)
from pixeldrift.world.wildcards import resolve_wildcards
from pixeldrift.world.words import WORDS

SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class SamplerWeights:
    """Relative frequencies of scene kinds, and of structures within object scenes."""

    kinds: dict[str, float] = field(default_factory=lambda: {"objects": 0.55, "clock": 0.15,
                                                             "quantity": 0.15, "text": 0.15})
    structures: dict[str, float] = field(default_factory=lambda: {"single": 0.15, "pair": 0.15, "counted": 0.25,
                                                                  "groups": 0.15, "relation": 0.30})
    random_word_share: float = 0.25  # text signs with random letters instead of a dictionary word
    group_relation_share: float = 0.3  # left/right/above/below between groups: "three circles above a square"


# Named mixes for training. "compositional" spends the stream where the benchmark fails most (counts,
# relations, colour binding) and less on signs, which the tiny VAE cannot carry (see models/default).
SCENE_MIXES = {
    "uniform": SamplerWeights(),
    "compositional": SamplerWeights(
        kinds={"objects": 0.70, "clock": 0.10, "quantity": 0.15, "text": 0.05},
        structures={"single": 0.10, "pair": 0.20, "counted": 0.30, "groups": 0.10, "relation": 0.30}),
    # For the VAE: signs are where an autoencoder loses most (thin strokes, small letters), so draw more.
    "signs": SamplerWeights(kinds={"objects": 0.35, "clock": 0.10, "quantity": 0.15, "text": 0.40}),
}


# (first group, second group) sizes of a relation between groups, within the spec's limits.
_GROUP_RELATION_COUNTS = [(a, b) for a in range(1, MAX_RELATION_GROUP + 1) for b in range(1, MAX_RELATION_GROUP + 1)
                          if 2 < a + b <= MAX_RELATION_OBJECTS]


def _group(rng: random.Random, count: int = 1, shape: str | None = None) -> ObjectGroup:
    return ObjectGroup(shape=shape or rng.choice(SHAPES), colour=rng.choice(COLOURS), size=rng.choice(SIZES),
                       count=count)


def _several_groups(rng: random.Random) -> tuple[ObjectGroup, ...]:
    """Two or three groups of different shapes and random counts, at most 8 objects."""
    shapes = rng.sample(SHAPES, rng.randint(2, 3))
    counts = [1] * len(shapes)
    for _ in range(rng.randint(0, MAX_OBJECTS - len(shapes))):
        counts[rng.randrange(len(counts))] += 1
    return tuple(_group(rng, count, shape) for shape, count in zip(shapes, counts))


def _objects(rng: random.Random, weights: SamplerWeights) -> ObjectsScene:
    structure = rng.choices(list(weights.structures), weights=list(weights.structures.values()))[0]
    background = rng.choice(BACKGROUNDS)
    if structure == "single":
        return ObjectsScene((_group(rng),), background=background)
    if structure == "pair":
        return ObjectsScene(tuple(_group(rng, 1, s) for s in rng.sample(SHAPES, 2)), background=background)
    if structure == "counted":
        return ObjectsScene((_group(rng, rng.randint(2, MAX_OBJECTS)),), background=background)
    if structure == "groups":
        return ObjectsScene(_several_groups(rng), background=background)
    relation = rng.choice(RELATIONS)
    shapes = rng.sample(SHAPES, 3 if relation == "between" else 2)  # distinct shapes tell them apart
    counts = [1] * len(shapes)
    if relation != "between" and rng.random() < weights.group_relation_share:
        counts = rng.choice(_GROUP_RELATION_COUNTS)
    return ObjectsScene(tuple(_group(rng, c, s) for c, s in zip(counts, shapes)), relation=relation,
                        background=background)


def _word(rng: random.Random, weights: SamplerWeights) -> str:
    if rng.random() < weights.random_word_share:
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(MIN_WORD, MAX_WORD)))
    return rng.choice(WORDS)


def _any_spec(rng: random.Random, weights: SamplerWeights) -> Scene:
    kind = rng.choices(list(weights.kinds), weights=list(weights.kinds.values()))[0]
    background = rng.choice(BACKGROUNDS)
    if kind == "objects":
        return _objects(rng, weights)
    if kind == "clock":
        return ClockScene(rng.randint(1, 12), MINUTE_STEP * rng.randrange(60 // MINUTE_STEP), background)
    if kind == "quantity":
        fills = tuple(rng.randint(0, 4) for _ in range(rng.randint(MIN_VESSELS, MAX_VESSELS)))
        return QuantityScene(fills, rng.choice(VESSELS), background)
    return TextScene(_word(rng, weights), background)


def sample_spec(rng: random.Random | int, split: str = "train", weights: SamplerWeights | None = None) -> Scene:
    """One fully specified spec of ``split``: "train" never holds out, "heldout" always does.

    A held-out spec is a benchmark prompt with its wildcards filled in at random.
    """
    rng = random.Random(rng) if isinstance(rng, int) else rng
    if split == "heldout":
        return resolve_wildcards(parse_prompt(rng.choice(HELDOUT_PROMPTS)[1]), rng)
    if split != "train":
        raise SpecError(f"split: {split!r} is not accepted; accepted: {', '.join(SPLITS)}")
    weights = weights or SamplerWeights()
    while True:
        spec = _any_spec(rng, weights)
        if not is_held_out(spec):
            return spec
