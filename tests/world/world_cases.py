"""Shared helpers for the world tests."""

from __future__ import annotations

import random

from pixeldrift.world import ObjectGroup, ObjectsScene, Scene, sample_spec


def seeded_specs(count: int, seed: int, split: str = "train") -> list[Scene]:
    rng = random.Random(seed)
    return [sample_spec(rng, split) for _ in range(count)]


def single_object(shape: str, colour: str, size: str = "large", background: str = "white") -> ObjectsScene:
    return ObjectsScene((ObjectGroup(shape, colour, size),), background=background)
