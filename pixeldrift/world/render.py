"""The renderer: a scene spec and a seed in, an anti-aliased RGB image out.

Shapes, clocks and vessels are drawn with Pillow on a 256-pixel canvas and box-
downsampled to the output size (4x supersampling at 64 px), which anti-aliases
every edge in C at about a tenth of a millisecond. Sign letters are the one
exception: they are pixel art from :mod:`pixeldrift.world.font`, drawn on the
output grid at an integer scale so they stay crisp and exactly readable; a sentence
is wrapped over up to three lines at the largest scale that fits (:func:`sign_layout`).
The seed fixes everything the spec leaves open: wildcards, positions, the
background shade, the sign colour.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.world import palette
from pixeldrift.world.font import GLYPH_HEIGHT, LETTER_PITCH, LINE_GAP, lines_bitmap, word_bitmap
from pixeldrift.world.layout import SIZE_FRACTION, Placement, arrange, arrange_groups, scatter
from pixeldrift.world.shapes import draw_shape
from pixeldrift.world.spec import (IMAGE_SIZES, MAX_SIGN_LINES, RENDER_SIZES, ClockScene, ObjectGroup, ObjectsScene,
                                   QuantityScene, Scene, SpecError, TextScene)
from pixeldrift.world.wildcards import resolve_wildcards

CANVAS = 256  # supersampled drawing side for every output size
# A sign's text spans at most SIGN_ROOM of the image, its letters at most SIGN_LETTERS of it tall.
SIGN_ROOM, SIGN_LETTERS = 0.84, 0.45

# Clock geometry as fractions of the face radius R; the verifier reads hands in
# radius bands where only one hand can be (minute hand alone beyond HOUR_HAND).
CLOCK_RIM, CLOCK_TICKS = 0.12, (0.76, 0.88)
HOUR_HAND, MINUTE_HAND = (0.45, 0.13), (0.72, 0.065)  # (length, width)
# Vessels: height and outline thickness as fractions of the canvas, glass bottom/top width.
VESSEL_HEIGHT, VESSEL_LINE, GLASS_TAPER = 0.45, 0.03, 0.8


def render(spec: Scene, size: int = 64, seed: int = 0,
           background_rgb: tuple[int, int, int] | None = None, *,
           placements: list[Placement] | None = None, letters_shown: int | None = None) -> np.ndarray:
    """Draw ``spec`` as a (size, size, 3) uint8 array; the same (spec, size, seed) gives the same pixels.

    ``background_rgb`` replaces the background colour and nothing else: every object lands where it
    would have (the layout control map of world/control_maps.py). The clips of world/motion.py move
    objects to given ``placements`` (one per object) and show a sign's first ``letters_shown`` letters
    on the whole word's board; everything else stays as the seed drew it."""
    rng, spec, background = begin_scene(spec, size, seed)
    background = background_rgb or background
    if isinstance(spec, TextScene):
        return _render_sign(rng, spec, size, background, letters_shown)
    image = Image.new("RGB", (CANVAS, CANVAS), background)
    draw = ImageDraw.Draw(image)
    if isinstance(spec, ObjectsScene):
        _draw_objects(rng, draw, spec, placements)
    elif isinstance(spec, ClockScene):
        _draw_clock(rng, draw, spec)
    elif isinstance(spec, QuantityScene):
        _draw_vessels(rng, draw, spec, background, size)
    return np.array(image.reduce(CANVAS // size))  # a writable copy, like the sign path


def begin_scene(spec: Scene, size: int, seed: int) -> tuple[random.Random, Scene, tuple[int, int, int]]:
    """The seed's generator after it has settled the wildcards and the background shade, as every
    drawing of this (spec, seed) starts: the control maps replay it to put things where render does."""
    if size not in RENDER_SIZES:
        raise SpecError(f"size: {size!r} is not accepted; accepted: {', '.join(map(str, RENDER_SIZES))}")
    rng = random.Random(seed)
    spec = resolve_wildcards(spec, rng)
    return rng, spec, _jittered_background(rng, spec.background)


def render_image(spec: Scene, size: int = 64, seed: int = 0) -> Image.Image:
    """:func:`render` as a PIL image."""
    return Image.fromarray(render(spec, size, seed))


def _jittered_background(rng: random.Random, name: str) -> tuple[int, int, int]:
    jitter = palette.BACKGROUND_JITTER
    return tuple(min(255, c + rng.randint(-jitter, jitter)) for c in palette.BACKGROUND_RGB[name])


def object_placements(rng: random.Random, spec: ObjectsScene) -> list[tuple[ObjectGroup, Placement]]:
    """Each object (a group repeated `count` times) and its place, drawn from `rng` as render draws them;
    `spec` has its wildcards resolved (begin_scene)."""
    objects = [g for g in spec.groups for _ in range(g.count)]
    halves = [SIZE_FRACTION[g.size] / 2 for g in objects]
    if spec.relation and spec.total_objects > len(spec.groups):  # a relation between groups
        first = spec.groups[0].count
        spots = arrange_groups(rng, spec.relation, halves[:first], halves[first:])
    else:
        spots = arrange(rng, spec.relation, halves) if spec.relation else scatter(rng, halves)
    return list(zip(objects, spots))


def placed_objects(spec: Scene, size: int = 64, seed: int = 0) -> list[tuple[ObjectGroup, Placement]]:
    """Where render(spec, size, seed) puts each object, wildcards resolved; none for the other scene kinds."""
    rng, spec, _ = begin_scene(spec, size, seed)
    return object_placements(rng, spec) if isinstance(spec, ObjectsScene) else []


def _draw_objects(rng: random.Random, draw: ImageDraw.ImageDraw, spec: ObjectsScene,
                  placements: list[Placement] | None = None) -> None:
    placed = object_placements(rng, spec)
    if placements is not None:
        if len(placements) != len(placed):
            raise SpecError(f"placements: {len(placements)} given for {len(placed)} objects; accepted: one each")
        placed = [(group, spot) for (group, _), spot in zip(placed, placements)]
    for group, spot in placed:
        draw_shape(draw, group.shape, spot.cx * CANVAS, spot.cy * CANVAS, spot.half * CANVAS,
                   palette.OBJECT_RGB[group.colour])


def hand(draw: ImageDraw.ImageDraw, cx: float, cy: float, angle: float, length: float, width: float,
         fill=palette.INK_RGB) -> None:
    """A hand as a rectangle from the centre outwards; ``angle`` in radians clockwise from 12."""
    dx, dy = math.sin(angle), -math.cos(angle)
    px, py = -dy * width / 2, dx * width / 2
    tip_x, tip_y = cx + dx * length, cy + dy * length
    draw.polygon([(cx + px, cy + py), (tip_x + px, tip_y + py), (tip_x - px, tip_y - py), (cx - px, cy - py)],
                 fill=fill)


def clock_geometry(rng: random.Random) -> tuple[float, float, float]:
    """(centre x, centre y, radius) of a clock face on the canvas, drawn from the seed."""
    radius = rng.uniform(0.38, 0.44) * CANVAS
    room = CANVAS / 2 - radius - 0.03 * CANVAS
    return CANVAS / 2 + rng.uniform(-room, room), CANVAS / 2 + rng.uniform(-room, room), radius


def clock_hands(draw: ImageDraw.ImageDraw, spec: ClockScene, cx: float, cy: float, radius: float,
                fill=palette.INK_RGB) -> None:
    """The hour and minute hands of ``spec``'s time."""
    minute_angle = math.radians(6 * spec.minute)
    hour_angle = math.radians(30 * (spec.hour % 12) + 0.5 * spec.minute)
    hand(draw, cx, cy, hour_angle, HOUR_HAND[0] * radius, HOUR_HAND[1] * radius, fill)
    hand(draw, cx, cy, minute_angle, MINUTE_HAND[0] * radius, MINUTE_HAND[1] * radius, fill)


def _draw_clock(rng: random.Random, draw: ImageDraw.ImageDraw, spec: ClockScene) -> None:
    cx, cy, radius = clock_geometry(rng)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=palette.INK_RGB)
    face = radius * (1 - CLOCK_RIM)
    draw.ellipse((cx - face, cy - face, cx + face, cy + face), fill=palette.CLOCK_FACE_RGB)
    for hour in range(12):
        a = math.radians(30 * hour)
        inner, outer = CLOCK_TICKS[0] * radius, CLOCK_TICKS[1] * radius
        hand(draw, cx + math.sin(a) * inner, cy - math.cos(a) * inner, a, outer - inner, 0.05 * radius)
    clock_hands(draw, spec, cx, cy, radius)
    cap = 0.07 * radius
    draw.ellipse((cx - cap, cy - cap, cx + cap, cy + cap), fill=palette.INK_RGB)


def vessel_line(size: int) -> float:
    """Outline thickness in output pixels: a share of the image, but never under one pixel."""
    return max(VESSEL_LINE * size, 1.0)


def _draw_vessels(rng: random.Random, draw: ImageDraw.ImageDraw, spec: QuantityScene, background, size: int) -> None:
    count = len(spec.fills)
    pitch = 0.9 / count
    width = min(0.16, 0.72 * pitch) * CANVAS
    height = VESSEL_HEIGHT * CANVAS
    top = rng.uniform(0.12, 0.88 - VESSEL_HEIGHT) * CANVAS
    left = (0.05 + rng.uniform(-0.02, 0.02)) * CANVAS
    line = vessel_line(size) * CANVAS / size
    for i, quarters in enumerate(spec.fills):
        cx = left + (i + 0.5) * pitch * CANVAS
        _draw_vessel(draw, spec.vessel, cx, top, width, height, quarters, background, line)


def _draw_vessel(draw, vessel: str, cx: float, top: float, width: float, height: float,
                 quarters: int, background, line: float) -> None:
    """A glass (open trapezoid) or a bar (closed rectangle), filled from the bottom; ``line`` in canvas pixels."""
    bottom = top + height
    taper = GLASS_TAPER if vessel == "glass" else 1.0
    outer = _trapezoid(cx, top, bottom, width / 2, width * taper / 2)
    draw.polygon(outer, fill=palette.INK_RGB)
    inner_top = top - line if vessel == "glass" else top + line  # a glass has no top edge
    inner = _trapezoid(cx, inner_top, bottom - line, width / 2 - line, width * taper / 2 - line)
    draw.polygon(inner, fill=background)
    if quarters:
        level = bottom - line - (bottom - line - (top + (line if vessel == "bar" else 0))) * quarters / 4
        draw.polygon(_clip_below(inner, level), fill=palette.LIQUID_RGB[vessel])


def _trapezoid(cx: float, top: float, bottom: float, top_half: float, bottom_half: float):
    return [(cx - top_half, top), (cx + top_half, top), (cx + bottom_half, bottom), (cx - bottom_half, bottom)]


def _clip_below(trapezoid, level: float):
    """The part of a (top-wide) trapezoid below height ``level``."""
    (x0, top), (x1, _), (x2, bottom), (x3, _) = trapezoid
    t = (level - top) / (bottom - top)
    return [(x0 + (x3 - x0) * t, level), (x1 + (x2 - x1) * t, level), (x2, bottom), (x3, bottom)]


def sign_letter_scale(letters: int, size: int) -> int:
    """Output pixels per font cell: the largest integer that fits the word on the canvas."""
    return max(1, min(int(SIGN_ROOM * size / (LETTER_PITCH * letters - 1)), int(SIGN_LETTERS * size / GLYPH_HEIGHT)))


def _wrap(words: list[str], letters: int) -> list[str] | None:
    """Words greedily into lines of at most ``letters`` letters and spaces; None when a word is longer."""
    lines: list[str] = []
    for word in words:
        if len(word) > letters:
            return None
        if lines and len(lines[-1]) + 1 + len(word) <= letters:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _layout(words: list[str], size: int) -> tuple[int, list[str]] | None:
    for scale in range(int(SIGN_LETTERS * size / GLYPH_HEIGHT), 0, -1):
        room = SIGN_ROOM * size / scale  # font cells the text may span, each way
        lines = _wrap(words, int((room + 1) / LETTER_PITCH))
        if lines and len(lines) <= MAX_SIGN_LINES and len(lines) * (GLYPH_HEIGHT + LINE_GAP) - LINE_GAP <= room:
            return scale, lines
    return None


def sign_layout(text: str, size: int) -> tuple[int, list[str]]:
    """(pixels per font cell, lines) of a sentence sign: the largest integer scale at which the words,
    wrapped greedily, fit in :data:`MAX_SIGN_LINES` lines within the room a word has (84% of the image,
    here each way; letters at most 45% of it tall). :class:`SpecError` names the sizes it fits otherwise."""
    words = text.split(" ")
    layout = _layout(words, size)
    if layout is None:
        room = SIGN_ROOM * size  # at the smallest scale, one pixel a font cell
        lines = min(MAX_SIGN_LINES, int((room + LINE_GAP) / (GLYPH_HEIGHT + LINE_GAP)))
        fits = ", ".join(str(other) for other in IMAGE_SIZES if _layout(words, other))
        raise SpecError(f"word: {text!r} does not fit a {size}-pixel sign; accepted at size {size}: up to {lines} "
                        f"lines of {int((room + 1) / LETTER_PITCH)} letters and spaces"
                        + (f" (this sentence fits at {fits} pixels)" if fits else ""))
    return layout


def _render_sign(rng: random.Random, spec: TextScene, size: int, background,
                 letters_shown: int | None = None) -> np.ndarray:
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = background
    if spec.is_sentence:
        if letters_shown is not None:
            raise SpecError(f"letters_shown: a sentence sign ({spec.word!r}) is shown whole; accepted: a word")
        scale, lines = sign_layout(spec.word, size)
        bitmap = lines_bitmap(lines)
    else:
        scale = sign_letter_scale(len(spec.word), size)
        bitmap = word_bitmap(spec.word).copy()
    if letters_shown is not None:
        if not 0 <= letters_shown <= len(spec.word):
            raise SpecError(f"letters_shown: {letters_shown!r} is not accepted; accepted: 0 to {len(spec.word)}")
        bitmap[:, letters_shown * LETTER_PITCH:] = False
    text = np.repeat(np.repeat(bitmap, scale, axis=0), scale, axis=1)
    pad = min(max(2, int(1.5 * scale)), (size - text.shape[1]) // 2)
    if pad < 1:
        raise SpecError(f"word: {spec.word!r} does not fit a {size}-pixel sign; accepted: up to "
                        f"{(size - 1) // LETTER_PITCH} letters at size {size}")
    board_h, board_w = text.shape[0] + 2 * pad, text.shape[1] + 2 * pad
    top = rng.randint(0, size - board_h)
    left = rng.randint(0, size - board_w)
    image[top:top + board_h, left:left + board_w] = rng.choice(palette.SIGN_BOARD_RGB)
    letters = image[top + pad:top + pad + text.shape[0], left + pad:left + pad + text.shape[1]]
    letters[text] = palette.SIGN_LETTER_RGB
    return image
