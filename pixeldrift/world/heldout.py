"""The held-out split: combinations the training stream never shows, kept for evaluation.

A spec is held out when it contains any of these (fixed, so every run and every
model is scored on the same unseen combinations):

- a colour-shape binding from ``COLOUR_SHAPES`` (e.g. any purple star);
- a scene total from ``SHAPE_COUNTS`` (e.g. exactly five stars, whatever their colours);
- both shapes of a pair in ``SHAPE_PAIRS`` in one scene (e.g. a circle with a cross);
- a single object whose (shape, background) is in ``SINGLE_BACKGROUNDS``;
- a relation in ``RELATIONS``, in either phrasing ("A left of B" is "B right of A");
- a clock time in ``TIMES``, a fill sequence in ``FILLS``, a word in ``WORDS``.

:data:`HELDOUT_PROMPTS` is the benchmark's prompt set built from them: every
benchmark category, each prompt held out however its wildcards are filled in.
"""

from __future__ import annotations

from pixeldrift.world.spec import ClockScene, ObjectsScene, QuantityScene, Scene, TextScene

COLOUR_SHAPES = frozenset({("purple", "star"), ("green", "triangle"), ("orange", "cross"),
                           ("blue", "diamond"), ("yellow", "circle"), ("pink", "square")})
SHAPE_COUNTS = frozenset({("star", 5), ("triangle", 7), ("diamond", 3), ("cross", 6), ("square", 4), ("circle", 8)})
SHAPE_PAIRS = frozenset({frozenset({"circle", "cross"}), frozenset({"triangle", "diamond"})})
SINGLE_BACKGROUNDS = frozenset({("star", "cream"), ("cross", "light blue"), ("triangle", "white")})
# Relations in canonical form: "left of" and "above" only; "between" as (subject, {ends}).
RELATIONS = frozenset({("above", "star", "circle"), ("left of", "cross", "square"), ("above", "square", "triangle"),
                       ("between", "diamond", frozenset({"star", "circle"}))})
TIMES = frozenset({(10, 10), (3, 40), (7, 25), (12, 45), (5, 55), (8, 5), (1, 30), (11, 15)})
FILLS = frozenset({(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (2, 2, 2), (1, 3), (0, 4, 0, 4), (3, 1, 3, 1, 3)})
WORDS = frozenset({"DRIFT", "PIXEL", "ZEBRA", "QUIZ", "JOLLY", "WAVY", "GHOST", "FOX"})

_MIRROR = {"right of": "left of", "below": "above"}


def _canonical_relation(spec: ObjectsScene) -> tuple | None:
    shapes = [g.shape for g in spec.groups]
    if spec.relation == "between":
        return ("between", shapes[0], frozenset(shapes[1:]))
    if spec.relation in _MIRROR:
        return (_MIRROR[spec.relation], shapes[1], shapes[0])
    return (spec.relation, shapes[0], shapes[1])


def _objects_held_out(spec: ObjectsScene) -> bool:
    if any((g.colour, g.shape) in COLOUR_SHAPES for g in spec.groups):
        return True
    totals: dict[str | None, int] = {}
    for g in spec.groups:
        totals[g.shape] = totals.get(g.shape, 0) + g.count
    if any(pair in SHAPE_COUNTS for pair in totals.items()):
        return True
    if any(pair <= totals.keys() for pair in SHAPE_PAIRS):
        return True
    if spec.total_objects == 1 and (spec.groups[0].shape, spec.background) in SINGLE_BACKGROUNDS:
        return True
    return spec.relation is not None and _canonical_relation(spec) in RELATIONS


def is_held_out(spec: Scene) -> bool:
    """True when ``spec`` contains a held-out combination (and so never appears in training)."""
    if isinstance(spec, ObjectsScene):
        return _objects_held_out(spec)
    if isinstance(spec, ClockScene):
        return (spec.hour, spec.minute) in TIMES
    if isinstance(spec, QuantityScene):
        return spec.fills in FILLS
    if isinstance(spec, TextScene):
        return spec.word in WORDS
    raise TypeError(f"spec: {type(spec).__name__} is not a scene")


HELDOUT_PROMPTS: tuple[tuple[str, str], ...] = (
    # (category, prompt); the category is also what benchmark_category() derives from the prompt.
    ("single object", "a star on a cream background"),
    ("single object", "a small star on a cream background"),
    ("single object", "a large star on a cream background"),
    ("single object", "a cross on a light blue background"),
    ("single object", "a small cross on a light blue background"),
    ("single object", "a large cross on a light blue background"),
    ("single object", "a triangle on a white background"),
    ("single object", "a small triangle on a white background"),
    ("single object", "a large triangle on a white background"),
    ("two objects", "a circle and a cross"),
    ("two objects", "a cross and a circle"),
    ("two objects", "a small circle and a large cross"),
    ("two objects", "a large circle and a small cross"),
    ("two objects", "a triangle and a diamond"),
    ("two objects", "a diamond and a triangle"),
    ("two objects", "a small triangle and a large diamond"),
    ("two objects", "a large triangle and a small diamond"),
    ("counting", "five stars"),
    ("counting", "seven triangles"),
    ("counting", "three diamonds"),
    ("counting", "six crosses"),
    ("counting", "four squares"),
    ("counting", "eight circles"),
    ("counting", "five red stars"),
    ("counting", "seven small blue triangles"),
    ("counting", "three black diamonds"),
    ("counting", "six small green crosses"),
    ("counting", "four large cyan squares"),
    ("counting", "eight small brown circles"),
    ("colours", "a purple star"),
    ("colours", "a green triangle"),
    ("colours", "an orange cross"),
    ("colours", "a blue diamond"),
    ("colours", "a yellow circle"),
    ("colours", "a pink square"),
    ("colours", "a large purple star"),
    ("colours", "a small green triangle"),
    ("position", "a star above a circle"),
    ("position", "a circle below a star"),
    ("position", "a cross to the left of a square"),
    ("position", "a square to the right of a cross"),
    ("position", "a square above a triangle"),
    ("position", "a triangle below a square"),
    ("position", "a diamond between a star and a circle"),
    ("position", "a diamond between a circle and a star"),
    ("colour attribution", "a purple star and a green square"),
    ("colour attribution", "a green triangle and a red circle"),
    ("colour attribution", "an orange cross and a blue star"),
    ("colour attribution", "a blue diamond and a yellow square"),
    ("colour attribution", "a yellow circle and a purple triangle"),
    ("colour attribution", "a pink square and an orange circle"),
    ("clock time", "an analog clock showing 10:10"),
    ("clock time", "an analog clock showing 3:40"),
    ("clock time", "an analog clock showing 7:25"),
    ("clock time", "an analog clock showing 12:45"),
    ("clock time", "an analog clock showing 5:55"),
    ("clock time", "an analog clock showing 8:05"),
    ("clock time", "an analog clock showing 1:30"),
    ("clock time", "an analog clock showing 11:15"),
    ("quantity", "five glasses: empty, quarter, half, three quarters, full"),
    ("quantity", "five bars: full, three quarters, half, quarter, empty"),
    ("quantity", "three glasses: half, half, half"),
    ("quantity", "two bars: quarter, three quarters"),
    ("quantity", "four glasses: empty, full, empty, full"),
    ("quantity", "five bars: three quarters, quarter, three quarters, quarter, three quarters"),
    ("text", "a sign that says DRIFT"),
    ("text", "a sign that says PIXEL"),
    ("text", "a sign that says ZEBRA"),
    ("text", "a sign that says QUIZ"),
    ("text", "a sign that says JOLLY"),
    ("text", "a sign that says WAVY"),
    ("text", "a sign that says GHOST"),
    ("text", "a sign that says FOX"),
)
