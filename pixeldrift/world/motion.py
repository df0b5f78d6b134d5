"""The world in motion: short clips whose truth is known at every frame.

Four kinds of clip, each a frozen spec drawn frame by frame by the stills' renderer with one seed
(so the background shade, the clock face, the row of vessels and the sign board stay put):

==================  ===========================================  ============================================
clip                caption                                      frame f of F
==================  ===========================================  ============================================
MovingObjects       "a red circle moving right",                 1 to 3 objects (no relation) translated
                    "two blue squares falling",                  together by ``travel * f / (F - 1)`` along
                    "a star moving left quickly"                 the direction, never leaving the canvas
ClockRun            "a clock going from 3:00 to 3:30"            the time ``start + span * f / (F - 1)``
                                                                 rounded to the 5-minute grid
FillRun             "three glasses filling from empty to full"   every vessel at the level between start and
                                                                 end, rounded to quarters
SignSpelling        "a sign spelling out HELLO"                  the whole word's board showing its first
                                                                 ``2 + round((L - 2) f / (F - 1))`` letters
==================  ===========================================  ============================================

Speeds are the distance an object travels over the whole clip, as a share of the image side:
"slowly" 0.2, unsaid 0.3, "quickly" 0.45. The verifier (world/verify_motion.py) checks every frame
against :func:`frame_specs` and the motion between frames. The held-out split mirrors the stills':
a clip is held out when any of its frames is a held-out still, or when it pairs a shape with a
direction in :data:`DIRECTION_SHAPES` or runs a vessel through a range in :data:`FILL_RUNS`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from pixeldrift.world.caption import NUMBER_WORDS, STYLES, caption, plural
from pixeldrift.world.heldout import is_held_out
from pixeldrift.world.layout import GAP, MARGIN, SIZE_FRACTION, Placement
from pixeldrift.world.parse import PromptError, parse_prompt
from pixeldrift.world.render import begin_scene, render
from pixeldrift.world.spec import (BACKGROUNDS, COLOURS, FILL_NAMES, MAX_VESSELS, MAX_WORD, MIN_VESSELS, MINUTE_STEP,
                                   SHAPES, SIZES, VESSELS, ClockScene, ObjectGroup, ObjectsScene, QuantityScene,
                                   Scene, SpecError, TextScene)
from pixeldrift.world.wildcards import resolve_wildcards
from pixeldrift.world.words import WORDS as DICTIONARY

MIN_FRAMES, MAX_FRAMES = 8, 16
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
VERB_DIRECTIONS = {"falling": "down", "rising": "up"}  # one-word motions
TRAVEL = {"slowly": 0.2, None: 0.3, "quickly": 0.45}  # share of the image side crossed over the clip
MAX_MOVING_OBJECTS = 3  # three large objects always fit in a column across the motion (the fallback)
MIN_SPELLED = 2  # a sign is born showing two letters: the world's signs hold 2 to 6
CLIP_KINDS = ("moving objects", "clock", "filling", "sign")
_TRIES = 200


def check_frames(frames: int) -> None:
    if not isinstance(frames, int) or isinstance(frames, bool) or not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise SpecError(f"frames: {frames!r} is not accepted; accepted: integers {MIN_FRAMES} to {MAX_FRAMES}")


@dataclass(frozen=True)
class MovingObjects:
    """The objects of ``scene`` crossing ``TRAVEL[speed]`` of the image towards ``direction``."""

    scene: ObjectsScene
    direction: str
    speed: str | None = None
    kind: ClassVar[str] = "moving objects"

    def __post_init__(self) -> None:
        if not isinstance(self.scene, ObjectsScene):
            raise SpecError(f"scene: {type(self.scene).__name__} cannot move; accepted: an ObjectsScene")
        if self.scene.relation is not None:
            raise SpecError(f"scene: objects in a relation ({self.scene.relation!r}) do not move; accepted: "
                            "objects without a relation")
        if self.scene.total_objects > MAX_MOVING_OBJECTS:
            raise SpecError(f"scene: {self.scene.total_objects} moving objects; accepted: 1 to {MAX_MOVING_OBJECTS}")
        if self.direction not in DIRECTIONS:
            raise SpecError(f"direction: {self.direction!r} is not accepted; accepted: {', '.join(DIRECTIONS)}")
        if self.speed not in TRAVEL:
            raise SpecError(f"speed: {self.speed!r} is not accepted; accepted: slowly, quickly or None")

    @property
    def background(self) -> str | None:
        return self.scene.background

    @property
    def travel(self) -> float:
        return TRAVEL[self.speed]


@dataclass(frozen=True)
class ClockRun:
    """A clock whose hands advance from ``start`` to ``end`` (hour, minute), forwards, under 12 hours."""

    start: tuple[int, int]
    end: tuple[int, int]
    background: str | None = None
    kind: ClassVar[str] = "clock"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", tuple(self.start))
        object.__setattr__(self, "end", tuple(self.end))
        for name in ("start", "end"):
            ClockScene(*getattr(self, name), self.background)  # validates hour, minute and background
        if self.span == 0:
            raise SpecError(f"end: {_clock_text(self.end)} is the start time; accepted: a later time")

    @property
    def span(self) -> int:
        """Minutes from start to end, forwards round the dial."""
        return (_minutes(self.end) - _minutes(self.start)) % 720


@dataclass(frozen=True)
class FillRun:
    """``count`` vessels filling (or emptying) together from ``start`` to ``end`` quarters."""

    count: int
    start: int
    end: int
    vessel: str | None = None
    background: str | None = None
    kind: ClassVar[str] = "filling"

    def __post_init__(self) -> None:
        QuantityScene((self.start,) * self.count, self.vessel, self.background)  # validates all but end
        QuantityScene((self.end,) * self.count)
        if self.start == self.end:
            raise SpecError(f"end: {FILL_NAMES[self.end]!r} is the start level; accepted: another level")

    @property
    def verb(self) -> str:
        return "filling" if self.end > self.start else "emptying"


@dataclass(frozen=True)
class SignSpelling:
    """A sign whose letters of ``word`` appear one by one, from the first two to the whole word."""

    word: str
    background: str | None = None
    kind: ClassVar[str] = "sign"

    def __post_init__(self) -> None:
        if TextScene(self.word, self.background).is_sentence:
            raise SpecError(f"word: {self.word!r} is a sentence; accepted: one word of {MIN_SPELLED + 1} to "
                            f"{MAX_WORD} capital letters")
        if len(self.word) <= MIN_SPELLED:
            raise SpecError(f"word: {self.word!r} is too short to spell out; accepted: {MIN_SPELLED + 1} to "
                            f"{MAX_WORD} capital letters")


Clip = MovingObjects | ClockRun | FillRun | SignSpelling


def _minutes(time: tuple[int, int]) -> int:
    return (time[0] % 12) * 60 + time[1]


def _clock_text(time: tuple[int, int]) -> str:
    return f"{time[0]}:{time[1]:02d}"


def progress(frames: int, step: float, total: float) -> list[float]:
    """``total * f / (frames - 1)`` for every frame, rounded to multiples of ``step`` (0: not rounded)."""
    values = [total * f / (frames - 1) for f in range(frames)]
    return [round(v / step) * step for v in values] if step else values


def frame_specs(clip: Clip, frames: int = 8) -> list[Scene]:
    """The still scene every frame shows: what the still verifier checks frame by frame."""
    check_frames(frames)
    if isinstance(clip, MovingObjects):
        return [clip.scene] * frames
    if isinstance(clip, ClockRun):
        start = _minutes(clip.start)
        times = [(start + int(m)) % 720 for m in progress(frames, MINUTE_STEP, clip.span)]
        return [ClockScene((t // 60 + 11) % 12 + 1, t % 60, clip.background) for t in times]
    if isinstance(clip, FillRun):
        levels = [clip.start + int(q) for q in progress(frames, 1, clip.end - clip.start)]
        return [QuantityScene((q,) * clip.count, clip.vessel, clip.background) for q in levels]
    if isinstance(clip, SignSpelling):
        shown = [MIN_SPELLED + int(k) for k in progress(frames, 1, len(clip.word) - MIN_SPELLED)]
        return [TextScene(clip.word[:k], clip.background) for k in shown]
    raise TypeError(f"clip: a {type(clip).__name__} is not a clip; accepted: {', '.join(CLIP_KINDS)}")


def render_clip(clip: Clip, frames: int = 8, size: int = 64, seed: int = 0,
                background_rgb: tuple[int, int, int] | None = None) -> np.ndarray:
    """The clip as a (frames, size, size, 3) uint8 array; the same (clip, frames, size, seed), the same pixels.
    ``background_rgb`` replaces the background colour alone, as for a still's layout map (world/control_maps.py)."""
    stills = frame_specs(clip, frames)
    if isinstance(clip, MovingObjects):
        paths = object_paths(clip, frames, size, seed)
        return np.stack([render(clip.scene, size, seed, background_rgb, placements=spots) for spots in paths])
    if isinstance(clip, SignSpelling):
        board = TextScene(clip.word, clip.background)
        return np.stack([render(board, size, seed, background_rgb, letters_shown=len(s.word)) for s in stills])
    return np.stack([render(still, size, seed, background_rgb) for still in stills])


def object_paths(clip: MovingObjects, frames: int = 8, size: int = 64, seed: int = 0) -> list[list[Placement]]:
    """Every frame's placements of the clip's objects (in the order render draws them)."""
    check_frames(frames)
    rng, scene, _ = begin_scene(clip.scene, size, seed)
    halves = [SIZE_FRACTION[g.size] / 2 for g in scene.groups for _ in range(g.count)]
    dx, dy = DIRECTIONS[clip.direction]
    starts = _start_places(rng, halves, dx, dy, clip.travel)
    return [[Placement(p.cx + dx * t, p.cy + dy * t, p.half) for p in starts]
            for t in progress(frames, 0, clip.travel)]


def _start_places(rng: random.Random, halves: list[float], dx: int, dy: int, travel: float) -> list[Placement]:
    """Clear, non-overlapping starting places whose whole path stays on the canvas (they move together, so
    they never meet); a column across the motion when random draws keep colliding."""
    def axis_range(half: float, sign: int) -> tuple[float, float]:
        low, high = MARGIN + half, 1 - MARGIN - half
        return (low, high - travel) if sign > 0 else (low + travel, high) if sign < 0 else (low, high)

    for _ in range(_TRIES):
        spots = [Placement(rng.uniform(*axis_range(h, dx)), rng.uniform(*axis_range(h, dy)), h) for h in halves]
        if all(p.clear_of(q) for i, p in enumerate(spots) for q in spots[i + 1:]):
            return spots
    gap = GAP + 0.005  # a hair over the layout's gap, so rounding cannot make neighbours touch
    across = (1 - sum(2 * h for h in halves) - gap * (len(halves) - 1)) / 2
    spots = []
    for h in halves:
        along = axis_range(h, dx or dy)[0]
        spots.append(Placement(along, across + h, h) if dx else Placement(across + h, along, h))
        across += 2 * h + gap
    return spots


# Captions -----------------------------------------------------------------------------------------

SPEED_WORDS = tuple(word for word in TRAVEL if word)


def _motion_phrase(clip: MovingObjects, style: str) -> str:
    if style in ("short", "bare") and clip.direction in ("up", "down"):
        verb = {"down": "falling", "up": "rising"}[clip.direction]
    elif style == "bare":
        verb = f"moving to the {clip.direction}" if clip.direction in ("left", "right") else f"moving {clip.direction}"
    else:
        verb = f"moving {clip.direction}"
    return f"{verb} {clip.speed}" if clip.speed else verb


def clip_caption(clip: Clip, style: str = "plain") -> str:
    """The clip's caption in one of the stills' styles (short, plain, bare, long); :func:`parse_clip` reads
    every one back."""
    if style not in STYLES:
        raise SpecError(f"style: {style!r} is not accepted; accepted: {', '.join(STYLES)}")
    if isinstance(clip, MovingObjects):
        text = f"{caption(replace(clip.scene, background=None), style)} {_motion_phrase(clip, style)}"
    elif isinstance(clip, ClockRun):
        noun = "a clock" if style in ("short", "bare") else "an analog clock"
        text = f"{noun} going from {_clock_text(clip.start)} to {_clock_text(clip.end)}"
    elif isinstance(clip, FillRun):
        count = str(clip.count) if style == "short" else NUMBER_WORDS[clip.count]
        lead = "a row of " if style == "long" else ""
        text = (f"{lead}{count} {plural(clip.vessel or 'vessel')} {clip.verb} from {FILL_NAMES[clip.start]} "
                f"to {FILL_NAMES[clip.end]}")
    elif isinstance(clip, SignSpelling):
        text = f"a sign spelling out {clip.word}" + (" letter by letter" if style == "long" else "")
    else:
        raise TypeError(f"clip: a {type(clip).__name__} is not a clip; accepted: {', '.join(CLIP_KINDS)}")
    return f"{text} on a {clip.background} background" if style == "long" and clip.background else text


# Parsing -------------------------------------------------------------------------------------------

CLIP_GRAMMAR = ("objects moving left/right/up/down (or falling, rising), optionally slowly or quickly, as in "
                "'two blue squares falling'; 'a clock going from 3:00 to 3:30'; 'three glasses filling from "
                "empty to full'; 'a sign spelling out HELLO'")
_BACKGROUND = re.compile(r"^(?P<body>.+?) on an? (?P<background>" + "|".join(BACKGROUNDS) + r") background$")
_SIGN = re.compile(r"^a sign spelling(?: out)? (?P<word>\S+)(?: letter by letter)?$")
_CLOCK = re.compile(r"^(?:an analog clock|an analogue clock|a clock)(?: face)? (?:going|running) from "
                    r"(?P<start>\S+) to (?P<end>\S+)$")
_FILL = re.compile(r"^(?:a row of )?(?P<count>\S+) (?P<vessels>\S+) (?P<verb>filling|emptying)(?: up)? "
                   r"from (?P<start>.+?) to (?P<end>.+)$")
_SHAPE_WORDS = {*SHAPES, *map(plural, SHAPES), "shape", "shapes"}


def parse_clip(prompt: str) -> Clip:
    """The clip a motion prompt describes; :class:`PromptError` names the part outside the grammar."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptError(f"prompt: {prompt!r} is empty; accepted: {CLIP_GRAMMAR}")
    text = re.sub(r"\s+", " ", prompt.strip()).rstrip(".").strip()
    lowered, background = text.lower(), None
    if match := _BACKGROUND.match(lowered):
        lowered, background = match["body"], match["background"]
    try:
        return _parse_clip_body(text, lowered, background)
    except (PromptError, SpecError) as error:
        raise PromptError(f"cannot parse {prompt!r}: {error}") from None


def _parse_clip_body(text: str, lowered: str, background: str | None) -> Clip:
    if match := _SIGN.match(lowered):
        return SignSpelling(text[match.start("word"):match.end("word")].upper(), background)
    if match := _CLOCK.match(lowered):
        return ClockRun(_parse_clock_time(match["start"]), _parse_clock_time(match["end"]), background)
    if match := _FILL.match(lowered):
        return _parse_fill(match, background)
    return _parse_moving(lowered, background)


def _parse_clock_time(word: str) -> tuple[int, int]:
    if match := re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", word):
        return int(match[1]), int(match[2])
    raise PromptError(f"time {word!r} is not accepted; accepted: H:MM such as 3:30, in 5-minute steps")


def _parse_fill(match: re.Match, background: str | None) -> FillRun:
    count_word, vessels = match["count"], match["vessels"]
    count = NUMBER_WORDS.index(count_word) if count_word in NUMBER_WORDS else \
        int(count_word) if count_word.isascii() and count_word.isdigit() else None
    if count is None or not MIN_VESSELS <= count <= MAX_VESSELS:
        raise PromptError(f"number of vessels {count_word!r} is not accepted; accepted: {MIN_VESSELS} to "
                          f"{MAX_VESSELS} in digits or words")
    nouns = {plural(v): v for v in VESSELS} | {"vessels": None}
    if vessels not in nouns:
        raise PromptError(f"vessel {vessels!r} is not accepted; accepted: {', '.join(nouns)}")
    levels = []
    for word in (match["start"], match["end"]):
        if word not in FILL_NAMES:
            raise PromptError(f"fill level {word!r} is not accepted; accepted: {', '.join(FILL_NAMES)}")
        levels.append(FILL_NAMES.index(word))
    run = FillRun(count, levels[0], levels[1], nouns[vessels], background)
    if run.verb != match["verb"]:
        raise PromptError(f"{match['verb']!r} from {match['start']} to {match['end']} goes the other way; "
                          f"say {run.verb!r}")
    return run


def _parse_moving(lowered: str, background: str | None) -> MovingObjects:
    words = lowered.split()
    last_shape = max((i for i, word in enumerate(words) if word in _SHAPE_WORDS), default=None)
    if last_shape is None:
        raise PromptError(f"no clip the world knows; accepted: {CLIP_GRAMMAR}")
    motion = words[last_shape + 1:]
    if not motion:
        raise PromptError(f"{lowered!r} does not move; add a motion such as 'moving right' or 'falling'")
    speed = motion.pop() if motion[-1] in SPEED_WORDS else None
    direction = _direction(motion)
    scene = parse_prompt(" ".join(words[:last_shape + 1]))
    if not isinstance(scene, ObjectsScene):
        raise PromptError(f"{' '.join(words[:last_shape + 1])!r} is not a group of objects")
    return MovingObjects(replace(scene, background=background), direction, speed)


def _direction(motion: list[str]) -> str:
    """"moving right", "moving to the right", "falling", "rising" -> a key of DIRECTIONS."""
    phrase = " ".join(motion)
    if len(motion) == 1 and motion[0] in VERB_DIRECTIONS:
        return VERB_DIRECTIONS[motion[0]]
    if motion[:1] == ["moving"]:
        rest = motion[3:] if motion[1:3] == ["to", "the"] else motion[1:]
        if len(rest) == 1 and rest[0] in DIRECTIONS:
            return rest[0]
    accepted = [f"moving {d}" for d in DIRECTIONS] + list(VERB_DIRECTIONS) + [f"... {s}" for s in SPEED_WORDS]
    raise PromptError(f"motion {phrase!r} is not known; accepted: {', '.join(accepted)}")


# The split ------------------------------------------------------------------------------------------

DIRECTION_SHAPES = frozenset({("triangle", "right"), ("star", "down"), ("square", "left"), ("diamond", "up")})
FILL_RUNS = frozenset({("bar", 4, 0), ("glass", 1, 3)})  # (vessel, start, end)


def is_clip_held_out(clip: Clip) -> bool:
    """True when a frame of the clip, at any frame count, is a held-out still, or the clip pairs a shape with
    a held-out direction or runs a vessel through a held-out range."""
    if isinstance(clip, MovingObjects):
        return is_held_out(clip.scene) or any((g.shape, clip.direction) in DIRECTION_SHAPES
                                              for g in clip.scene.groups)
    if isinstance(clip, ClockRun):
        start = _minutes(clip.start)
        return any(is_held_out(ClockScene(((start + m) // 60 + 11) % 12 + 1, (start + m) % 60))
                   for m in range(0, clip.span + 1, MINUTE_STEP))
    if isinstance(clip, FillRun):
        low, high = sorted((clip.start, clip.end))
        return (clip.vessel, clip.start, clip.end) in FILL_RUNS or \
            any(is_held_out(QuantityScene((q,) * clip.count)) for q in range(low, high + 1))
    if isinstance(clip, SignSpelling):
        return any(is_held_out(TextScene(clip.word[:k])) for k in range(MIN_SPELLED, len(clip.word) + 1))
    raise TypeError(f"clip: a {type(clip).__name__} is not a clip; accepted: {', '.join(CLIP_KINDS)}")


HELDOUT_MOTION_PROMPTS: tuple[tuple[str, str], ...] = (
    # (category, prompt): every prompt held out however its wildcards are filled in (tests check it).
    ("moving object", "a red triangle moving right"),
    ("moving object", "a small triangle moving right quickly"),
    ("moving object", "a star falling"),
    ("moving object", "a large black star moving down slowly"),
    ("moving object", "a blue square moving left"),
    ("moving object", "a square moving left quickly"),
    ("moving object", "a diamond rising"),
    ("moving object", "a cyan diamond moving up slowly"),
    ("moving objects", "two triangles moving right"),
    ("moving objects", "a circle and a square moving left"),
    ("moving objects", "three small stars falling"),
    ("moving objects", "two red diamonds rising"),
    ("clock", "a clock going from 10:00 to 10:30"),
    ("clock", "a clock going from 3:30 to 4:00"),
    ("clock", "a clock going from 7:00 to 7:45"),
    ("clock", "a clock going from 12:30 to 1:15"),
    ("filling", "three glasses filling from empty to full"),
    ("filling", "two bars emptying from full to empty"),
    ("filling", "two glasses filling from quarter to three quarters"),
    ("sign", "a sign spelling out DRIFT"),
    ("sign", "a sign spelling out GHOST"),
    ("sign", "a sign spelling out ZEBRA"),
)


# Sampling --------------------------------------------------------------------------------------------

CLIP_WEIGHTS = {"moving objects": 0.55, "clock": 0.15, "filling": 0.15, "sign": 0.15}


def resolve_clip(clip: Clip, rng: random.Random) -> Clip:
    """A copy of ``clip`` with every wildcard (colour, size, vessel, background) filled in from ``rng``."""
    if isinstance(clip, MovingObjects):
        return replace(clip, scene=resolve_wildcards(clip.scene, rng))
    background = clip.background or rng.choice(BACKGROUNDS)
    if isinstance(clip, FillRun):
        return replace(clip, vessel=clip.vessel or rng.choice(VESSELS), background=background)
    return replace(clip, background=background)


def _any_clip(rng: random.Random, weights: dict[str, float]) -> Clip:
    kind = rng.choices(list(weights), weights=list(weights.values()))[0]
    background = rng.choice(BACKGROUNDS)
    if kind == "moving objects":
        shapes = rng.sample(SHAPES, rng.randint(1, 2))
        counts = [1] * len(shapes)
        for _ in range(rng.randint(0, MAX_MOVING_OBJECTS - len(shapes))):
            counts[rng.randrange(len(counts))] += 1
        groups = tuple(ObjectGroup(s, rng.choice(COLOURS), rng.choice(SIZES), c) for s, c in zip(shapes, counts))
        return MovingObjects(ObjectsScene(groups, background=background), rng.choice(list(DIRECTIONS)),
                             rng.choice(list(TRAVEL)))
    if kind == "clock":
        start = rng.randrange(720 // MINUTE_STEP) * MINUTE_STEP
        end = (start + MINUTE_STEP * rng.randint(1, 24)) % 720  # up to two hours later
        return ClockRun(((start // 60 + 11) % 12 + 1, start % 60), ((end // 60 + 11) % 12 + 1, end % 60), background)
    if kind == "filling":
        start, end = rng.sample(range(5), 2)
        return FillRun(rng.randint(MIN_VESSELS, MAX_VESSELS), start, end, rng.choice(VESSELS), background)
    words = [w for w in DICTIONARY if len(w) > MIN_SPELLED]
    return SignSpelling(rng.choice(words), background)


def sample_clip(rng: random.Random | int, split: str = "train", weights: dict[str, float] | None = None) -> Clip:
    """One fully specified clip of ``split``: "train" never holds out, "heldout" always does."""
    rng = random.Random(rng) if isinstance(rng, int) else rng
    if split == "heldout":
        return resolve_clip(parse_clip(rng.choice(HELDOUT_MOTION_PROMPTS)[1]), rng)
    if split != "train":
        raise SpecError(f"split: {split!r} is not accepted; accepted: train, heldout")
    weights = weights or CLIP_WEIGHTS
    unknown = set(weights) - set(CLIP_WEIGHTS)
    if unknown:
        raise SpecError(f"weights: {sorted(unknown)} are not clip kinds; accepted: {', '.join(CLIP_WEIGHTS)}")
    while True:
        clip = _any_clip(rng, weights)
        if not is_clip_held_out(clip):
            return clip
