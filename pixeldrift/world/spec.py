"""Scene specs: the typed truth behind every picture of the challenge world.

A spec is semantic only (what is in the picture); where things go and the exact
background shade come from the render seed. An attribute left as ``None`` is a
wildcard: a prompt that does not mention it (``"three stars"`` says nothing about
colour) parses to a spec with ``colour=None``, the renderer picks a value from
the seed and the verifier does not check it.

Every constructor validates its fields and raises :class:`SpecError` (a
``ValueError``) naming the field, the bad value and the accepted values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

SHAPES = ("circle", "square", "triangle", "star", "diamond", "cross")
COLOURS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown", "black")
SIZES = ("small", "large")
BACKGROUNDS = ("white", "light grey", "cream", "light blue")
# "A left of B": the first group relative to the second ("between": the first
# group between the second and the third).
RELATIONS = ("left of", "right of", "above", "below", "between")
VESSELS = ("glass", "bar")
# Fill levels are stored in quarters: 0 = empty ... 4 = full.
FILL_NAMES = ("empty", "quarter", "half", "three quarters", "full")
MAX_OBJECTS = 8
# A directional relation may hold between groups ("three red circles above a blue square"): each group
# then stands in a row on its side, so a group is at most a row's worth and the scene at most four objects.
MAX_RELATION_GROUP, MAX_RELATION_OBJECTS = 3, 4
IMAGE_SIZES = (32, 64, 128)
# The sizes render() draws: also 256, its supersampling canvas itself (every other size is a box reduction of
# it, signs aside), for super-resolution's targets (data/upscale_stream.py); the verifier reads IMAGE_SIZES only.
RENDER_SIZES = IMAGE_SIZES + (256,)
MIN_VESSELS, MAX_VESSELS = 2, 5
MIN_WORD, MAX_WORD = 2, 6
# A sign may hold a sentence instead (asked for explicitly; the training stream draws one word): up to
# MAX_SIGN_WORDS words of MIN_WORD to MAX_WORD capitals one space apart, wrapped by the renderer over up
# to MAX_SIGN_LINES lines.
MAX_SIGN_WORDS, MAX_SIGN_LINES = 5, 3
MINUTE_STEP = 5


class SpecError(ValueError):
    """A scene spec field holds a value the world cannot draw."""


def _check_choice(field_name: str, value: Any, accepted: tuple, optional: bool = True) -> None:
    if value is None and optional:
        return
    if value not in accepted:
        raise SpecError(f"{field_name}: {value!r} is not accepted; accepted: {', '.join(map(str, accepted))}")


def _check_int(field_name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SpecError(f"{field_name}: {value!r} is not accepted; accepted: integers {low} to {high}")


@dataclass(frozen=True)
class ObjectGroup:
    """``count`` identical objects: e.g. three small red circles."""

    shape: str | None = None
    colour: str | None = None
    size: str | None = None
    count: int = 1

    def __post_init__(self) -> None:
        _check_choice("shape", self.shape, SHAPES)
        _check_choice("colour", self.colour, COLOURS)
        _check_choice("size", self.size, SIZES)
        _check_int("count", self.count, 1, MAX_OBJECTS)

    def could_be_same_object(self, other: ObjectGroup) -> bool:
        """True when one object could match both descriptions (so a relation between them is ambiguous)."""
        return all(a is None or b is None or a == b for a, b in
                   ((self.shape, other.shape), (self.colour, other.colour), (self.size, other.size)))


@dataclass(frozen=True)
class ObjectsScene:
    """1 to 8 shapes in groups, optionally arranged by one spatial relation.

    With a relation, ``groups`` are its participants in order, one object each:
    ``groups[0]`` is left of / right of / above / below ``groups[1]``, or between
    ``groups[1]`` and ``groups[2]``.
    """

    groups: tuple[ObjectGroup, ...]
    relation: str | None = None
    background: str | None = None
    kind: ClassVar[str] = "objects"

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))
        if not self.groups or not all(isinstance(g, ObjectGroup) for g in self.groups):
            raise SpecError("groups: need at least one ObjectGroup")
        total = sum(g.count for g in self.groups)
        if total > MAX_OBJECTS:
            raise SpecError(f"groups: {total} objects in total; accepted: 1 to {MAX_OBJECTS}")
        _check_choice("relation", self.relation, RELATIONS)
        _check_choice("background", self.background, BACKGROUNDS)
        if self.relation is not None:
            self._check_relation()

    def _check_relation(self) -> None:
        if self.relation == "between":
            if len(self.groups) != 3 or any(g.count != 1 for g in self.groups):
                raise SpecError("relation: 'between' needs exactly 3 groups of one object each")
        elif len(self.groups) != 2:
            raise SpecError(f"relation: {self.relation!r} needs exactly 2 groups")
        elif any(g.count > MAX_RELATION_GROUP for g in self.groups) or self.total_objects > MAX_RELATION_OBJECTS:
            raise SpecError(f"relation: {self.relation!r} between groups of {self.groups[0].count} and "
                            f"{self.groups[1].count} objects; accepted: up to {MAX_RELATION_GROUP} a group, "
                            f"{MAX_RELATION_OBJECTS} in all")
        for i, a in enumerate(self.groups):
            for b in self.groups[i + 1:]:
                if a.could_be_same_object(b):
                    raise SpecError(f"relation: objects {a} and {b} cannot be told apart")

    @property
    def total_objects(self) -> int:
        return sum(g.count for g in self.groups)


@dataclass(frozen=True)
class ClockScene:
    """An analog clock face showing ``hour``:``minute`` (minutes in 5-minute steps)."""

    hour: int
    minute: int
    background: str | None = None
    kind: ClassVar[str] = "clock"

    def __post_init__(self) -> None:
        _check_int("hour", self.hour, 1, 12)
        _check_int("minute", self.minute, 0, 59)
        if self.minute % MINUTE_STEP:
            raise SpecError(f"minute: {self.minute} is not accepted; accepted: multiples of {MINUTE_STEP} from 0 to 55")
        _check_choice("background", self.background, BACKGROUNDS)


@dataclass(frozen=True)
class QuantityScene:
    """A row of 2 to 5 glasses or bars, each filled to ``fills[i]`` quarters (0..4)."""

    fills: tuple[int, ...]
    vessel: str | None = None
    background: str | None = None
    kind: ClassVar[str] = "quantity"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fills", tuple(self.fills))
        if not MIN_VESSELS <= len(self.fills) <= MAX_VESSELS:
            raise SpecError(f"fills: {len(self.fills)} vessels; accepted: {MIN_VESSELS} to {MAX_VESSELS}")
        for i, level in enumerate(self.fills):
            _check_int(f"fills[{i}]", level, 0, 4)
        _check_choice("vessel", self.vessel, VESSELS)
        _check_choice("background", self.background, BACKGROUNDS)


@dataclass(frozen=True)
class TextScene:
    """A sign showing ``word``: 2 to 6 capital letters A-Z, or a sentence of up to 5 such words one
    space apart ("THE CAT SAT ON MATS"), which the renderer wraps over up to 3 lines."""

    word: str
    background: str | None = None
    kind: ClassVar[str] = "text"

    def __post_init__(self) -> None:
        word = self.word
        if isinstance(word, str) and " " in word:
            _check_sentence(word)
        elif not isinstance(word, str) or not _is_word(word):
            raise SpecError(f"word: {word!r} is not accepted; accepted: {MIN_WORD} to {MAX_WORD} capital letters "
                            f"A-Z, or a sentence of up to {MAX_SIGN_WORDS} such words one space apart")
        _check_choice("background", self.background, BACKGROUNDS)

    @property
    def is_sentence(self) -> bool:
        return " " in self.word


def _is_word(word: str) -> bool:
    return MIN_WORD <= len(word) <= MAX_WORD and all("A" <= ch <= "Z" for ch in word)


def _check_sentence(text: str) -> None:
    words = text.split(" ")
    if len(words) > MAX_SIGN_WORDS:
        raise SpecError(f"word: {text!r} has {len(words)} words; accepted: up to {MAX_SIGN_WORDS} words on a sign")
    bad = next((w for w in words if not _is_word(w)), None)
    if bad is not None:
        raise SpecError(f"word: {bad!r} in {text!r} is not accepted; accepted: words of {MIN_WORD} to {MAX_WORD} "
                        "capital letters A-Z, one space apart")


Scene = ObjectsScene | ClockScene | QuantityScene | TextScene
SCENE_KINDS = ("objects", "clock", "quantity", "text")


def spec_to_dict(spec: Scene) -> dict[str, Any]:
    """A JSON-ready dict; every kind has a ``kind`` key and keys of fixed types."""
    if isinstance(spec, ObjectsScene):
        groups = [{"shape": g.shape, "colour": g.colour, "size": g.size, "count": g.count} for g in spec.groups]
        return {"kind": spec.kind, "groups": groups, "relation": spec.relation, "background": spec.background}
    if isinstance(spec, ClockScene):
        return {"kind": spec.kind, "hour": spec.hour, "minute": spec.minute, "background": spec.background}
    if isinstance(spec, QuantityScene):
        return {"kind": spec.kind, "fills": list(spec.fills), "vessel": spec.vessel, "background": spec.background}
    if isinstance(spec, TextScene):
        return {"kind": spec.kind, "word": spec.word, "background": spec.background}
    raise SpecError(f"spec: {type(spec).__name__} is not a scene; accepted: {', '.join(SCENE_KINDS)}")


def spec_from_dict(data: dict[str, Any]) -> Scene:
    """Inverse of :func:`spec_to_dict`; unknown kinds or keys raise :class:`SpecError`."""
    if not isinstance(data, dict):
        raise SpecError(f"spec: expected a dict, got {type(data).__name__}")
    fields = dict(data)
    kind = fields.pop("kind", None)
    try:
        if kind == "objects":
            groups = tuple(ObjectGroup(**g) for g in fields.pop("groups", ()))
            return ObjectsScene(groups=groups, **fields)
        if kind == "clock":
            return ClockScene(**fields)
        if kind == "quantity":
            return QuantityScene(**fields)
        if kind == "text":
            return TextScene(**fields)
    except TypeError as error:  # unknown or missing keys
        raise SpecError(f"spec: {error}") from None
    raise SpecError(f"kind: {kind!r} is not accepted; accepted: {', '.join(SCENE_KINDS)}")

