"""Filling in what a prompt left open: every ``None`` attribute gets a random value."""

from __future__ import annotations

from dataclasses import replace
import random

from pixeldrift.world.spec import (BACKGROUNDS, COLOURS, SHAPES, SIZES, VESSELS, ClockScene, ObjectGroup,
                                   ObjectsScene, QuantityScene, Scene, TextScene)


def _pick(rng: random.Random, value, choices):
    return rng.choice(choices) if value is None else value


def _resolve_group(rng: random.Random, group: ObjectGroup) -> ObjectGroup:
    return ObjectGroup(shape=_pick(rng, group.shape, SHAPES), colour=_pick(rng, group.colour, COLOURS),
                       size=_pick(rng, group.size, SIZES), count=group.count)


def resolve_wildcards(spec: Scene, rng: random.Random) -> Scene:
    """A fully specified copy of ``spec``; attributes already given are kept as they are."""
    background = _pick(rng, spec.background, BACKGROUNDS)
    if isinstance(spec, ObjectsScene):
        groups = tuple(_resolve_group(rng, g) for g in spec.groups)
        return ObjectsScene(groups=groups, relation=spec.relation, background=background)
    if isinstance(spec, QuantityScene):
        return replace(spec, vessel=_pick(rng, spec.vessel, VESSELS), background=background)
    if isinstance(spec, (ClockScene, TextScene)):
        return replace(spec, background=background)
    raise TypeError(f"spec: {type(spec).__name__} is not a scene")


def is_fully_specified(spec: Scene) -> bool:
    """True when no attribute of ``spec`` is a wildcard."""
    if spec.background is None:
        return False
    if isinstance(spec, ObjectsScene):
        return all(None not in (g.shape, g.colour, g.size) for g in spec.groups)
    if isinstance(spec, QuantityScene):
        return spec.vessel is not None
    return True
