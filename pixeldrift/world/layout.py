"""Placing objects on the canvas: free scatter or arranged to satisfy a relation.

Coordinates are fractions of the canvas side (0 = left/top, 1 = right/bottom), so
one layout serves every image size. Objects never overlap: their bounding boxes
keep a gap of ``GAP`` between them and ``MARGIN`` from the canvas edges.

Relations have one exact meaning, shared with the verifier
(:func:`relation_holds`): "A left of B" means the direction from B to A lies
within 45 degrees of straight left; "A between B and C" means A projects onto
the segment B-C strictly inside it and lies closer to that line than half its
length. Between groups (:func:`groups_relation_holds`), "three circles above a
square" means every circle is higher than every square and the circles' centre
lies above the squares' centre in the 45-degree sense; for one object each this
is the single-object rule. The layout keeps a clear margin so rendering blur
cannot flip them.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import random

SIZE_FRACTION = {"small": 0.2, "large": 0.26}
GAP = 0.06
MARGIN = 0.035
DIRECTION_MARGIN = 0.08  # placed relations beat the 45-degree line by this much
BETWEEN_MARGIN = 0.15  # and "between" keeps this far inside the segment and near its line
_TRIES = 20


@dataclass(frozen=True)
class Placement:
    """One object's centre and half-side, as fractions of the canvas side."""

    cx: float
    cy: float
    half: float

    def clear_of(self, other: Placement) -> bool:
        reach = self.half + other.half + GAP
        return abs(self.cx - other.cx) >= reach or abs(self.cy - other.cy) >= reach


# A directional relation's axis (0: x, 1: y) and the sign of "A minus B" along it when it holds.
_AXIS = {"left of": (0, -1), "right of": (0, 1), "above": (1, -1), "below": (1, 1)}


def relation_holds(relation: str, a: tuple[float, float], b: tuple[float, float],
                   c: tuple[float, float] | None = None, margin: float = 0.0) -> bool:
    """Whether centre ``a`` stands in ``relation`` to ``b`` (and ``c`` for "between")."""
    if relation in _AXIS:  # within 45 degrees of the relation's direction, by `margin`
        axis, sign = _AXIS[relation]
        return sign * (a[axis] - b[axis]) > abs(a[1 - axis] - b[1 - axis]) + margin
    if relation == "between" and c is not None:
        return _between(a, b, c, margin)
    raise ValueError(f"relation: {relation!r} is not accepted; accepted: left of, right of, above, below, between")


def _centroid(centres: list[tuple[float, float]]) -> tuple[float, float]:
    return (sum(c[0] for c in centres) / len(centres), sum(c[1] for c in centres) / len(centres))


def groups_relation_holds(relation: str, a: list[tuple[float, float]], b: list[tuple[float, float]],
                          margin: float = 0.0) -> bool:
    """Whether group ``a`` (centres) stands in a directional ``relation`` to group ``b``: every object of a
    lies beyond every object of b along the relation's axis, and a's centroid is in the relation to b's."""
    if relation not in _AXIS:
        raise ValueError(f"relation: {relation!r} between groups is not accepted; accepted: {', '.join(_AXIS)}")
    axis, sign = _AXIS[relation]
    beyond = all(sign * (p[axis] - q[axis]) > margin for p in a for q in b)
    return beyond and relation_holds(relation, _centroid(a), _centroid(b), margin=margin)


def _between(a, b, c, margin: float) -> bool:
    ux, uy = c[0] - b[0], c[1] - b[1]
    length_sq = ux * ux + uy * uy
    if length_sq == 0:
        return False
    t = ((a[0] - b[0]) * ux + (a[1] - b[1]) * uy) / length_sq
    off_line = abs((a[0] - b[0]) * uy - (a[1] - b[1]) * ux) / length_sq  # in units of |BC|
    return margin < t < 1 - margin and off_line < 0.5 - margin


def _random_placement(rng: random.Random, half: float) -> Placement:
    low, high = MARGIN + half, 1 - MARGIN - half
    return Placement(rng.uniform(low, high), rng.uniform(low, high), half)


def scatter(rng: random.Random, halves: list[float]) -> list[Placement]:
    """Non-overlapping random placements for objects of the given half-sides, in order."""
    order = sorted(range(len(halves)), key=lambda i: -halves[i])  # big ones first: fewer dead ends
    crowding = sum((2 * h + GAP) ** 2 for h in halves) / (1 - 2 * MARGIN + GAP) ** 2
    for _ in range(_TRIES if crowding < 0.45 else 0):  # crowded canvases rarely scatter: go to the grid
        placed: dict[int, Placement] = {}
        for i in order:
            spot = next((p for p in (_random_placement(rng, halves[i]) for _ in range(30))
                         if all(p.clear_of(q) for q in placed.values())), None)
            if spot is None:
                break
            placed[i] = spot
        else:
            return [placed[i] for i in range(len(halves))]
    return _grid_fallback(rng, halves)


def _grid_fallback(rng: random.Random, halves: list[float]) -> list[Placement]:
    """3 x 3 cells, one object per cell, jittered inside it: always fits 8 large objects."""
    cell = (1 - 2 * MARGIN + GAP) / 3
    cells = rng.sample(range(9), len(halves))
    placements = []
    for half, index in zip(halves, cells):
        room = max(0.0, cell - GAP - 2 * half) / 2
        cx = MARGIN - GAP / 2 + cell * (index % 3 + 0.5) + rng.uniform(-room, room)
        cy = MARGIN - GAP / 2 + cell * (index // 3 + 0.5) + rng.uniform(-room, room)
        placements.append(Placement(cx, cy, half))
    return placements


def arrange(rng: random.Random, relation: str, halves: list[float]) -> list[Placement]:
    """Placements for the relation's participants (subject first) that satisfy it clearly."""
    for _ in range(_TRIES * 50):
        spots = _between_candidate(rng, halves) if relation == "between" else \
            [_random_placement(rng, h) for h in halves]
        if spots is None or not all(p.clear_of(q) for i, p in enumerate(spots) for q in spots[i + 1:]):
            continue
        centres = [(p.cx, p.cy) for p in spots]
        if relation_holds(relation, *centres, margin=BETWEEN_MARGIN if relation == "between" else DIRECTION_MARGIN):
            return spots
    raise RuntimeError(f"could not arrange {relation!r} for half-sides {halves}")  # not reached in practice


def arrange_groups(rng: random.Random, relation: str, halves_a: list[float], halves_b: list[float]
                   ) -> list[Placement]:
    """Placements for a directional relation between groups: group a in a row on its side, b on the other.

    Returns a's placements, then b's; they satisfy :func:`groups_relation_holds` with a clear margin.
    """
    axis, sign = _AXIS[relation]
    for _ in range(_TRIES * 50):
        a_band, b_band = ((0.5, 1.0), (0.0, 0.5)) if sign > 0 else ((0.0, 0.5), (0.5, 1.0))  # sign > 0: right, below
        spots = _row(rng, halves_a, axis, *a_band) + _row(rng, halves_b, axis, *b_band)
        if not all(p.clear_of(q) for i, p in enumerate(spots) for q in spots[i + 1:]):
            continue
        centres = [(p.cx, p.cy) for p in spots]
        if groups_relation_holds(relation, centres[:len(halves_a)], centres[len(halves_a):],
                                 margin=DIRECTION_MARGIN):
            return spots
    raise RuntimeError(f"could not arrange {relation!r} for groups {halves_a} and {halves_b}")  # not reached


def _row(rng: random.Random, halves: list[float], axis: int, low: float, high: float) -> list[Placement]:
    """Objects side by side across ``axis``, their centres within [low, high] along it (slightly jittered),
    spread at random gaps over the canvas's width."""
    along = rng.uniform(max(low, MARGIN + max(halves)), min(high, 1 - MARGIN - max(halves)))
    free = 1 - 2 * MARGIN - sum(2 * h for h in halves) - GAP * (len(halves) - 1)
    cuts = sorted(rng.uniform(0, max(0.0, free)) for _ in range(len(halves)))
    spots, edge = [], MARGIN
    for half, cut, previous in zip(halves, cuts, [0.0] + cuts):
        edge += cut - previous
        across = edge + half
        jitter = rng.uniform(-0.03, 0.03)
        point = (across, along + jitter) if axis == 1 else (along + jitter, across)
        spots.append(Placement(min(max(point[0], MARGIN + half), 1 - MARGIN - half),
                               min(max(point[1], MARGIN + half), 1 - MARGIN - half), half))
        edge += 2 * half + GAP
    return spots


def _between_candidate(rng: random.Random, halves: list[float]) -> list[Placement] | None:
    """Ends along a random direction on both sides of the middle object, just clear of it.

    The direction and spacing are drawn first; the middle is then drawn from the
    positions that keep all three on the canvas (None when there are none).
    """
    angle = rng.uniform(0, 2 * math.pi)
    direction = (math.cos(angle), math.sin(angle))
    stretch = 1 / max(abs(direction[0]), abs(direction[1]))  # boxes clear along it after reach * stretch
    offsets = [0.0] + [sign * ((halves[0] + h + GAP) * stretch + rng.uniform(0, 0.1))
                       for sign, h in ((-1, halves[1]), (1, halves[2]))]
    middle = []
    for axis in (0, 1):
        low = max(MARGIN + h - o * direction[axis] for h, o in zip(halves, offsets))
        high = min(1 - MARGIN - h - o * direction[axis] for h, o in zip(halves, offsets))
        if low > high:
            return None
        middle.append(rng.uniform(low, high))
    return [Placement(middle[0] + o * direction[0], middle[1] + o * direction[1], h) for h, o in zip(halves, offsets)]
