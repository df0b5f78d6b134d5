"""The bias audit: what a model draws for a prompt that leaves choices open, read exactly, against its data.

The lectures' example is "CEO" yielding mostly men in suits because the training photos did.
The world makes it measurable: an underspecified prompt ("a shape", "some circles", "a clock",
"some glasses") is generated N times, each image is read back with the world's readers
(shape, colour, size, count and position of each object; the hour and minute of a clock; the
number, kind and fill of vessels), and each attribute's distribution is compared with the same
readers' reading of the training images that match the prompt (rendered from the world
stream's specs, or read from an image folder a model was trained on) and with uniform.
The statistics are in classroom/audit_stats.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
import random

import numpy as np
from PIL import Image

from pixeldrift.classroom.audit_stats import AttributeAudit, AuditError, audit_attribute
from pixeldrift.world import (COLOURS, FILL_NAMES, SHAPES, SIZES, VESSELS, ClockScene, ObjectsScene, PromptError,
                              QuantityScene, Scene, parse_prompt, render, sample_spec)
from pixeldrift.world.read_clock import read_clock
from pixeldrift.world.read_objects import read_objects
from pixeldrift.world.read_pixels import UnreadableScene, border_colour
from pixeldrift.world.read_quantity import read_quantity
from pixeldrift.world.spec import MAX_OBJECTS, MAX_VESSELS, MIN_VESSELS, MINUTE_STEP

MAX_SAMPLES = 4096
MAX_REFERENCE = 20000
MAX_DRAWS = 2_000_000   # specs drawn from the stream while looking for matches
TICK_DRAWS = 10_000     # world_reference calls its tick this often (a server's cancel check)
POSITIONS = ("top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right")
VALUES = {"shape": SHAPES, "colour": COLOURS, "size": SIZES, "position": POSITIONS,
          "hour": tuple(str(h) for h in range(1, 13)),
          "minute": tuple(f"{m:02d}" for m in range(0, 60, MINUTE_STEP)),
          "vessels": tuple(str(n) for n in range(MIN_VESSELS, MAX_VESSELS + 1)), "fill": FILL_NAMES,
          "vessel": VESSELS}


@dataclass(frozen=True)
class AuditPrompt:
    """A prompt and the training scenes it stands for: its kind, and what it fixes (None: left open)."""

    prompt: str
    kind: str                                  # "objects", "clock" or "quantity"
    shape: str | None = None
    colour: str | None = None
    size: str | None = None
    counts: tuple[int, int] = (1, 1)           # objects: least and most
    vessel: str | None = None

    @property
    def attributes(self) -> tuple[str, ...]:
        if self.kind == "clock":
            return ("hour", "minute")
        if self.kind == "quantity":
            return ("vessels", "fill") + (("vessel",) if self.vessel is None else ())
        return ("count",) + tuple(a for a in ("shape", "colour", "size") if getattr(self, a) is None) + ("position",)

    def values(self, attribute: str) -> tuple[str, ...]:
        """The values this prompt allows: what uniform is over."""
        if attribute == "count":
            return tuple(str(n) for n in range(self.counts[0], self.counts[1] + 1))
        return VALUES[attribute]

    def matches(self, spec: Scene) -> bool:
        """Whether a training scene is one this prompt describes."""
        if self.kind == "clock":
            return isinstance(spec, ClockScene)
        if self.kind == "quantity":
            return isinstance(spec, QuantityScene) and self.vessel in (None, spec.vessel)
        if not isinstance(spec, ObjectsScene) or spec.relation or len(spec.groups) != 1:
            return False
        group = spec.groups[0]
        return (self.counts[0] <= group.count <= self.counts[1]
                and all(getattr(self, a) in (None, getattr(group, a)) for a in ("shape", "colour", "size")))


NAMED_PROMPTS = {p.prompt: p for p in (
    AuditPrompt("a shape", "objects"),
    AuditPrompt("some shapes", "objects", counts=(2, MAX_OBJECTS)),
    AuditPrompt("some circles", "objects", shape="circle", counts=(2, MAX_OBJECTS)),
    AuditPrompt("a clock", "clock"),
    AuditPrompt("some glasses", "quantity", vessel="glass"),
)}
DEFAULT_PROMPTS = ("a shape", "some circles", "a clock", "some glasses")


def audit_prompt(text: str) -> AuditPrompt:
    """A named audit prompt, or a world prompt of one group of objects ("three stars", "a large shape")."""
    if not isinstance(text, str):
        raise AuditError(f"prompt: {text!r} is not text; accepted: {', '.join(NAMED_PROMPTS)} or a world prompt")
    if text.strip().lower() in NAMED_PROMPTS:
        return NAMED_PROMPTS[text.strip().lower()]
    try:
        spec = parse_prompt(text)
    except PromptError as error:
        raise AuditError(f"{error}; accepted: {', '.join(NAMED_PROMPTS)}, or one group of objects "
                         "such as 'three stars'") from None
    if not isinstance(spec, ObjectsScene) or spec.relation or len(spec.groups) != 1:
        raise AuditError(f"prompt {text!r}: only one group of objects can be audited (its open shape, colour, "
                         f"size and position); accepted also: {', '.join(NAMED_PROMPTS)}")
    group = spec.groups[0]
    return AuditPrompt(text, "objects", group.shape, group.colour, group.size, (group.count, group.count))


def _position(cx: float, cy: float) -> str:
    column, row = min(int(cx * 3), 2), min(int(cy * 3), 2)
    return POSITIONS[3 * row + column]


def read_attributes(image, kind: str) -> dict[str, str] | None:
    """Each attribute's value in one image; None when the scene cannot be read.

    One value per image, the most frequent among its objects (or vessels): a group's objects
    share their colour and size, so counting objects would count one draw many times and
    make the chi-square tests of audit_stats see significance that is not there.
    """
    rgb = image.convert("RGB") if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
    pixels = np.asarray(rgb.convert("RGB"), dtype=np.float32) / 255.0
    background = border_colour(pixels)
    try:
        if kind == "clock":
            clock = read_clock(pixels)
            return {"hour": str(clock.hour), "minute": f"{clock.minute:02d}"}
        if kind == "quantity":
            seen = read_quantity(pixels, background)
            return {"vessels": str(len(seen.fills)), "fill": _most([FILL_NAMES[f] for f in seen.fills]),
                    "vessel": _most(seen.vessels)}
    except UnreadableScene:
        return None
    objects = read_objects(pixels, background)
    read = {"count": str(len(objects))}
    if objects:
        read.update(shape=_most([o.shape for o in objects]), colour=_most([o.colour for o in objects]),
                    size=_most([o.size for o in objects]), position=_most([_position(o.cx, o.cy) for o in objects]))
    return read


def _most(values) -> str:
    """The most frequent value; a tie goes to the one seen first (left to right, as the readers list them)."""
    return Counter(values).most_common(1)[0][0]


@dataclass
class Sample:
    """Counts of every attribute's values over many images, and how many images could not be read."""

    counts: dict[str, Counter] = field(default_factory=dict)
    images: int = 0
    unreadable: int = 0

    def add(self, image, kind: str) -> None:
        self.images += 1
        read = read_attributes(image, kind)
        if read is None:
            self.unreadable += 1
            return
        for attribute, value in read.items():
            self.counts.setdefault(attribute, Counter())[value] += 1


def world_reference(prompt: AuditPrompt, n: int, seed: int = 0, size: int = 64, tick=None) -> Sample:
    """n training images matching ``prompt``: specs from the training stream's sampler (uniform mix),
    rendered with a seed drawn like the stream's, and read like the outputs. ``tick()`` is called every
    TICK_DRAWS draws: a rare prompt can take all MAX_DRAWS (about 45 s on a laptop core)."""
    _check_count("reference images", n, MAX_REFERENCE)
    rng, sample = random.Random(f"audit:{seed}"), Sample()
    for draw in range(MAX_DRAWS):
        if tick is not None and draw % TICK_DRAWS == 0:
            tick()
        spec = sample_spec(rng)
        render_seed = rng.randrange(2**31)
        if prompt.matches(spec):
            sample.add(render(spec, size, render_seed), prompt.kind)
            if sample.images == n:
                return sample
    raise AuditError(f"{prompt.prompt!r}: only {sample.images} of {MAX_DRAWS} training scenes match it")


def folder_reference(prompt: AuditPrompt, folder: Path, n: int) -> Sample:
    """Up to n images of an image folder (metadata.jsonl or .txt captions) whose caption parses to a scene
    ``prompt`` describes; AuditError when none does."""
    from pixeldrift.data.image_folder import ImageFolder, open_image  # the folder's checks: files, formats, captions

    _check_count("reference images", n, MAX_REFERENCE)
    data, sample = ImageFolder(folder, size=64), Sample()
    for name, text in data.rows:
        try:
            spec = parse_prompt(text)
        except PromptError:
            continue
        if prompt.matches(spec):
            with open_image(folder, name) as image:
                sample.add(image.convert("RGB").resize((64, 64), Image.Resampling.BICUBIC), prompt.kind)
            if sample.images == n:
                break
    if not sample.images:
        raise AuditError(f"{prompt.prompt!r}: no caption in {folder} describes such a scene")
    return sample


def model_sample(generate, prompt: AuditPrompt, n: int, seed: int = 0, batch_size: int = 32) -> Sample:
    """n images of ``prompt`` from ``generate(prompts, seeds)`` (seeds seed .. seed + n - 1), read."""
    _check_count("samples", n, MAX_SAMPLES)
    sample = Sample()
    for start in range(seed, seed + n, batch_size):
        seeds = list(range(start, min(start + batch_size, seed + n)))
        for image in generate([prompt.prompt] * len(seeds), seeds):
            sample.add(image, prompt.kind)
    return sample


def compare(prompt: AuditPrompt, outputs: Sample, reference: Sample) -> list[AttributeAudit]:
    """One AttributeAudit per attribute the prompt leaves open and both samples show (no colour is read
    from images without objects)."""
    return [audit_attribute(a, prompt.values(a), outputs.counts[a], reference.counts[a]) for a in prompt.attributes
            if sum(outputs.counts.get(a, Counter()).values()) and sum(reference.counts.get(a, Counter()).values())]


def _check_count(name: str, n, most: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= most:
        raise AuditError(f"{name}: {n!r} is not accepted; accepted: 1 to {most}")
