"""How exact is the verifier? Its accuracy on the world's own images, four ways.

- ``rendered``: share of rendered scenes that verify as correct (should be 1);
- ``degraded``: the same after noise, blur and JPEG (:mod:`degrade`);
- ``swapped``: share of swapped-caption negatives rejected (the image of one scene
  checked against the spec of the next scene of the same kind);
- ``hard negatives``: share of one-attribute changes rejected (:mod:`negatives`).
"""

from __future__ import annotations

import random

import numpy as np

from pixeldrift.world.degrade import Degradation, degrade
from pixeldrift.world.negatives import hard_negative
from pixeldrift.world.render import render
from pixeldrift.world.sample import sample_spec
from pixeldrift.world.spec import Scene, TextScene
from pixeldrift.world.verify import verify


def check_specs(count: int, seed: int, size: int) -> list[Scene]:
    """``count`` training specs that fit an image of ``size`` (long words do not fit 32 pixels)."""
    rng, specs = random.Random(seed), []
    while len(specs) < count:
        spec = sample_spec(rng)
        if not (isinstance(spec, TextScene) and len(spec.word) > (size - 3) // 6):
            specs.append(spec)
    return specs


def _share_ok(pairs) -> float:
    return float(np.mean([verify(image, spec).ok for image, spec in pairs]))


def rendered_accuracy(specs: list[Scene], size: int) -> float:
    return _share_ok((render(s, size, i), s) for i, s in enumerate(specs))


def degraded_accuracy(specs: list[Scene], size: int, seed: int, settings: Degradation = Degradation()) -> float:
    rng = np.random.default_rng(seed)
    return _share_ok((degrade(render(s, size, i), rng, settings), s) for i, s in enumerate(specs))


def swapped_rejection(specs: list[Scene], size: int) -> float:
    """Each image against the spec of the next scene of its kind (pairs of equal specs are skipped)."""
    by_kind: dict[str, list[Scene]] = {}
    for spec in specs:
        by_kind.setdefault(spec.kind, []).append(spec)
    position = {id(spec): i for same in by_kind.values() for i, spec in enumerate(same)}
    pairs = []
    for i, spec in enumerate(specs):
        same = by_kind[spec.kind]
        other = same[(position[id(spec)] + 1) % len(same)]
        if other != spec:
            pairs.append((render(spec, size, i), other))
    return 1.0 - _share_ok(pairs)


def hard_negative_rejection(specs: list[Scene], size: int, seed: int) -> float:
    rng = random.Random(seed)
    return 1.0 - _share_ok((render(s, size, i), hard_negative(s, rng)) for i, s in enumerate(specs))


def verifier_report(count: int, size: int, seed: int = 0) -> dict[str, float]:
    """All four figures on ``count`` fresh specs each."""
    return {
        "rendered": rendered_accuracy(check_specs(count, seed, size), size),
        "degraded": degraded_accuracy(check_specs(count, seed + 1, size), size, seed + 1),
        "swapped": swapped_rejection(check_specs(count, seed + 2, size), size),
        "hard negatives": hard_negative_rejection(check_specs(count, seed + 3, size), size, seed + 3),
    }
