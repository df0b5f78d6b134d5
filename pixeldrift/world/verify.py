"""The verifier: read an image back into a scene and compare it, attribute by attribute, with a spec.

``verify(image, spec)`` never raises on a bad image: an image that is not from
the world (wrong size, grayscale, noise, a photo) gives a result whose
``problems`` say what could not be read, and ``ok`` is False. Wildcards in the
spec (attributes a prompt did not mention) are not checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image

from pixeldrift.world.caption import RELATION_PHRASES, group_phrase, plural
from pixeldrift.world.layout import groups_relation_holds, relation_holds
from pixeldrift.world.read_clock import read_clock
from pixeldrift.world.read_objects import SeenObject, read_objects
from pixeldrift.world.read_pixels import BACKGROUND_PALETTE, UnreadableScene, border_colour, nearest
from pixeldrift.world.read_quantity import read_quantity
from pixeldrift.world.read_text import read_lines, read_text
from pixeldrift.world.render import sign_layout
from pixeldrift.world.spec import (BACKGROUNDS, FILL_NAMES, IMAGE_SIZES, ClockScene, ObjectGroup, ObjectsScene,
                                   QuantityScene, Scene, SpecError, TextScene)

BACKGROUND_TOLERANCE = 0.25  # farthest a border colour may be from a named background
BACKGROUND_SPREAD = 0.08  # largest median deviation of the border: more is not a plain background


@dataclass(frozen=True)
class Check:
    """One attribute compared: what the spec asks for, what the image shows."""

    attribute: str
    expected: str
    observed: str
    ok: bool


@dataclass(frozen=True)
class VerifyResult:
    """Per-attribute checks; ``problems`` lists what could not be read at all."""

    checks: tuple[Check, ...] = ()
    problems: tuple[str, ...] = ()
    seen: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def explain(self) -> str:
        """One line per problem or failed check; "correct" when there are none."""
        lines = [f"could not read: {p}" for p in self.problems]
        lines += [f"text: read {c.observed!r}, asked for {c.expected!r}" if c.attribute == "text" else
                  f"{c.attribute}: expected {c.expected}, found {c.observed}" for c in self.failures]
        return "\n".join(lines) if lines else "correct"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks], "problems": list(self.problems),
                "seen": self.seen}


def verify(image: Image.Image | np.ndarray, spec: Scene) -> VerifyResult:
    """Compare ``image`` with ``spec``; see the module docstring."""
    if type(spec) not in _KIND_CHECKS:
        raise TypeError(f"spec: a {type(spec).__name__} is not a scene; parse a prompt with parse_prompt() first")
    pixels = _as_pixels(image)
    if isinstance(pixels, str):
        return VerifyResult(problems=(pixels,))
    background = border_colour(pixels)
    problem = _background_problem(pixels, background)
    if problem:
        return VerifyResult(problems=(problem,))
    checks = [_background_check(spec, background)] if spec.background is not None else []
    try:
        kind_checks, seen = _KIND_CHECKS[type(spec)](pixels, background, spec)
    except UnreadableScene as unreadable:
        return VerifyResult(checks=tuple(checks), problems=(str(unreadable),))
    return VerifyResult(checks=tuple(checks + kind_checks), seen=seen)


def _as_pixels(image) -> np.ndarray | str:
    """Float RGB in [0, 1], or a sentence saying why the input is not a world image."""
    if isinstance(image, Image.Image):
        if image.mode not in ("RGB", "RGBA"):
            return f"image mode is {image.mode!r}; accepted: RGB, RGBA"
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        return f"input is a {type(image).__name__}; accepted: a PIL image or an H x W x 3 array"
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        return f"array shape is {image.shape}; accepted: H x W x 3 (RGB) or H x W x 4 (RGBA)"
    if image.shape[0] != image.shape[1] or image.shape[0] not in IMAGE_SIZES:
        sizes = ", ".join(f"{s}x{s}" for s in IMAGE_SIZES)
        return f"image is {image.shape[1]}x{image.shape[0]}; accepted: {sizes}"
    if image.dtype == np.uint8:
        return image[:, :, :3].astype(np.float32) / 255.0
    if np.issubdtype(image.dtype, np.floating) and np.isfinite(image).all() and 0 <= image.min() <= image.max() <= 1:
        return image[:, :, :3].astype(np.float32)
    return f"array dtype is {image.dtype} with values outside what is accepted: uint8, or floats in [0, 1]"


def _background_problem(pixels: np.ndarray, background: np.ndarray) -> str | None:
    frame = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    spread = float(np.median(np.abs(frame - background).max(axis=1)))
    _, distance = nearest(background, BACKGROUND_PALETTE)
    if spread > BACKGROUND_SPREAD or distance > BACKGROUND_TOLERANCE:
        rgb = tuple(int(round(255 * c)) for c in background)
        return (f"no plain world background: the border is {rgb} varying by {spread:.2f}; "
                f"accepted: a plain {', '.join(BACKGROUNDS)} background")
    return None


def _background_check(spec: Scene, background: np.ndarray) -> Check:
    index, _ = nearest(background, BACKGROUND_PALETTE)
    return Check("background", spec.background, BACKGROUNDS[index], BACKGROUNDS[index] == spec.background)


def _fits(group: ObjectGroup, seen: SeenObject) -> bool:
    return all(want is None or want == got for want, got in
               ((group.shape, seen.shape), (group.colour, seen.colour), (group.size, seen.size)))


def _assign(groups: tuple[ObjectGroup, ...], seen: list[SeenObject]) -> list[int | None]:
    """Maximum matching of seen objects to group slots (Kuhn's augmenting paths); slot -> object."""
    slots = [g for g in groups for _ in range(g.count)]
    owner: dict[int, int] = {}  # seen object -> slot

    def augment(slot: int, visited: set[int]) -> bool:
        for j, obj in enumerate(seen):
            if j in visited or not _fits(slots[slot], obj):
                continue
            visited.add(j)
            if j not in owner or augment(owner[j], visited):
                owner[j] = slot
                return True
        return False

    for slot in range(len(slots)):
        augment(slot, set())
    by_slot: list[int | None] = [None] * len(slots)
    for j, slot in owner.items():
        by_slot[slot] = j
    return by_slot


def _noun_phrase(group: ObjectGroup) -> str:
    """"small red circles", "red star": the group without its count."""
    phrase = group_phrase(replace(group, count=1), "long")
    phrase = phrase.split(" ", 1)[1]  # drop the article
    return plural(phrase) if group.count != 1 else phrase


def _objects_checks(pixels, background, spec: ObjectsScene) -> tuple[list[Check], dict]:
    seen = read_objects(pixels, background)
    by_slot = _assign(spec.groups, seen)
    used = {j for j in by_slot if j is not None}
    spare = [obj for j, obj in enumerate(seen) if j not in used]
    checks, slot = [], 0
    for group in spec.groups:
        matched = sum(by_slot[slot + k] is not None for k in range(group.count))
        found = matched + sum(_fits(group, obj) for obj in spare)
        checks.append(Check(f"count of {_noun_phrase(group)}", str(group.count), str(found),
                            found == group.count))
        slot += group.count
    others = [obj for obj in spare if not any(_fits(g, obj) for g in spec.groups)]
    checks.append(Check("other objects", "none", ", ".join(o.describe() for o in others) or "none", not others))
    if spec.relation:
        checks.append(_relation_check(spec, seen, by_slot))
    return checks, {"objects": [asdict(o) for o in seen]}


def _relation_check(spec: ObjectsScene, seen: list[SeenObject], by_slot: list[int | None]) -> Check:
    names = [f"the {_noun_phrase(g)}" for g in spec.groups]
    expected = f"{names[0]} {RELATION_PHRASES[spec.relation]} {' and '.join(names[1:])}"
    if any(j is None for j in by_slot):
        return Check("relation", expected, "not all of its objects were found", False)
    centres = [(seen[j].cx, seen[j].cy) for j in by_slot]
    if spec.relation == "between":
        if relation_holds(spec.relation, *centres):
            return Check("relation", expected, "as expected", True)
        return Check("relation", expected, f"{names[0]} is not between them", False)
    first = spec.groups[0].count
    holds = [r for r in ("left of", "right of", "above", "below")
             if groups_relation_holds(r, centres[:first], centres[first:])]
    if spec.relation in holds:
        return Check("relation", expected, "as expected", True)
    actual = holds[0] if holds else None
    if actual:
        observed = f"{names[0]} {RELATION_PHRASES[actual]} {names[1]}"
    elif spec.total_objects == 2:
        observed = f"{names[0]} diagonal to {names[1]}"
    else:
        observed = f"{names[0]} not all on one side of {names[1]}"
    return Check("relation", expected, observed, False)


def _clock_checks(pixels, background, spec: ClockScene) -> tuple[list[Check], dict]:
    clock = read_clock(pixels)
    checks = [Check("hour", str(spec.hour), str(clock.hour), clock.hour == spec.hour),
              Check("minute", f"{spec.minute:02d}", f"{clock.minute:02d}", clock.minute == spec.minute)]
    return checks, asdict(clock)


def _quantity_checks(pixels, background, spec: QuantityScene) -> tuple[list[Check], dict]:
    vessels = read_quantity(pixels, background)
    count = len(vessels.fills)
    checks = [Check("number of vessels", str(len(spec.fills)), str(count), count == len(spec.fills))]
    if spec.vessel is not None:
        wrong = [kind for kind in vessels.vessels if kind != spec.vessel]
        checks.append(Check("vessel kind", spec.vessel, ", ".join(vessels.vessels), not wrong))
    if count == len(spec.fills):
        for i, (want, got) in enumerate(zip(spec.fills, vessels.fills)):
            checks.append(Check(f"fill of vessel {i + 1}", FILL_NAMES[want], FILL_NAMES[got], want == got))
    return checks, asdict(vessels)


def _text_checks(pixels, background, spec: TextScene) -> tuple[list[Check], dict]:
    if not spec.is_sentence:
        word = read_text(pixels)
        return [Check("word", spec.word, word, word == spec.word)], {"word": word}
    try:
        sign_layout(spec.word, len(pixels))
    except SpecError as error:
        raise UnreadableScene(str(error)) from None
    lines = read_lines(pixels)  # where the lines break is the drawer's choice: the words are checked
    text = " ".join(lines)
    return [Check("text", spec.word, text, text == spec.word)], {"word": text, "lines": lines}


_KIND_CHECKS = {ObjectsScene: _objects_checks, ClockScene: _clock_checks,
                QuantityScene: _quantity_checks, TextScene: _text_checks}
