"""Hard negatives: specs that differ from a scene in exactly one attribute.

A count one off, one colour or shape changed, a relation flipped, a minute or an
hour moved, one fill level or one letter changed, another background. The
verifier must reject the image of the original against each of them; they also
serve as contrastive captions for training.
"""

from __future__ import annotations

from dataclasses import replace
import random

from pixeldrift.world.spec import (BACKGROUNDS, COLOURS, SHAPES, ClockScene, ObjectsScene, QuantityScene, Scene,
                                   TextScene)

_FLIPPED = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _other(rng: random.Random, value, choices):
    return rng.choice([c for c in choices if c != value])


def _perturb_objects(spec: ObjectsScene, rng: random.Random) -> ObjectsScene:
    if spec.relation and rng.random() < 0.5:
        if spec.relation == "between":  # the first end is now said to be in the middle
            groups = (spec.groups[1], spec.groups[0], spec.groups[2])
            return ObjectsScene(groups, "between", spec.background)
        return replace(spec, relation=_FLIPPED[spec.relation])
    i = rng.randrange(len(spec.groups))
    group = spec.groups[i]
    counts = [] if spec.relation else [c for c in (group.count - 1, group.count + 1)
                                       if c >= 1 and spec.total_objects - group.count + c <= 8]
    change = rng.choice(["shape", "colour", "size"] + (["count"] if counts else []))
    if change == "count":
        new = replace(group, count=rng.choice(counts))
    elif change == "size":
        new = replace(group, size="large" if group.size == "small" else "small")
    else:
        new = replace(group, **{change: _other(rng, getattr(group, change), SHAPES if change == "shape" else COLOURS)})
    groups = spec.groups[:i] + (new,) + spec.groups[i + 1:]
    if spec.relation and any(a.could_be_same_object(b) for k, a in enumerate(groups) for b in groups[k + 1:]):
        return replace(spec, background=_other(rng, spec.background, BACKGROUNDS))
    return replace(spec, groups=groups)


def hard_negative(spec: Scene, rng: random.Random) -> Scene:
    """A spec that differs from the fully specified ``spec`` in exactly one attribute."""
    if rng.random() < 0.1:
        return replace(spec, background=_other(rng, spec.background, BACKGROUNDS))
    if isinstance(spec, ObjectsScene):
        return _perturb_objects(spec, rng)
    if isinstance(spec, ClockScene):
        if rng.random() < 0.5:
            return replace(spec, hour=spec.hour % 12 + 1)
        return replace(spec, minute=(spec.minute + rng.choice([5, 55])) % 60)
    if isinstance(spec, QuantityScene):
        if rng.random() < 0.2:
            return replace(spec, vessel="bar" if spec.vessel == "glass" else "glass")
        i = rng.randrange(len(spec.fills))
        level = spec.fills[i] + (1 if spec.fills[i] < 4 and (spec.fills[i] == 0 or rng.random() < 0.5) else -1)
        return replace(spec, fills=spec.fills[:i] + (level,) + spec.fills[i + 1:])
    assert isinstance(spec, TextScene)
    letters = [i for i, ch in enumerate(spec.word) if ch != " "]  # a sentence keeps its spaces
    i = letters[rng.randrange(len(letters))]
    letter = _other(rng, spec.word[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return replace(spec, word=spec.word[:i] + letter + spec.word[i + 1:])
