"""Reading an image without a prompt: which kind of world scene it shows, and whether it reads cleanly.

The verifier answers "does this image show *that* scene?". An unconditional model has no
prompt, so its samples are asked the question before it: "is this a world scene at all, and
of which kind?" Each kind's reader from pixeldrift.world runs on the image, and the kind
*reads cleanly* when its reader finds what it looks for and the image holds nothing else:

- every kind: a plain world background at the border (the verifier's own test), every pixel
  a blend of at most two of the kind's inks (background, object colours, clock ink and face,
  outline and liquid, sign board and letters): a pixel that is no such blend is a colour the
  world never draws; and enough of the drawn pixels an ink itself: a blur has none;
- objects: 1 to 8 objects are read, and drawing what was read (each shape in its palette
  colour and size, where it was found) gives back the image: at most OBJECT_MISMATCH of
  the pixels that either one covers differ, and each object is its colour inside;
- clock: the time reads, the dark rim closes round the face, and the face is light;
- quantity: 2 to 5 vessels read, their outlines of one height, tops level, nothing beside them;
- text: a word of 2 to 6 letters reads, drawing that word on the board as the renderer
  would gives back the board, and nothing is drawn beside it.

A reading is accepted (`kind` set) when exactly one kind reads cleanly. Its *mode* is the
kind, and for objects scenes the colour and shape of the largest object read: the partition
over which bench/family_world.py measures diversity, as the 2-D lab does over grid cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.world import palette
from pixeldrift.world.components import connected_components
from pixeldrift.world.font import GLYPH_HEIGHT, LETTER_PITCH, word_bitmap
from pixeldrift.world.layout import SIZE_FRACTION
from pixeldrift.world.read_clock import DARK_LUMA, read_clock
from pixeldrift.world.read_objects import FOREGROUND_DISTANCE, read_objects
from pixeldrift.world.read_pixels import BACKGROUND_PALETTE, UnreadableScene, border_colour, luminance, nearest
from pixeldrift.world.read_quantity import DARK_VALUE, read_quantity
from pixeldrift.world.read_text import BOARD_LUMA, read_text
from pixeldrift.world.render import CANVAS, CLOCK_RIM, sign_letter_scale
from pixeldrift.world.shapes import draw_shape
from pixeldrift.world.spec import (IMAGE_SIZES, MAX_OBJECTS, MAX_VESSELS, MAX_WORD, MIN_VESSELS, MIN_WORD)
from pixeldrift.world.verify import BACKGROUND_SPREAD, BACKGROUND_TOLERANCE

KINDS = ("objects", "clock", "quantity", "text")
INK_TOLERANCE = 0.12       # farthest a pixel may be from a blend of two of its kind's inks
UNEXPLAINED_SHARE = 0.03   # most pixels that may be no such blend
# Least share of the drawn pixels (off the background) that must be an ink itself, not a blend: under the
# least share among 600 real 32-pixel renders of the kind (objects 0.27, clock 0.24, quantity 0.034 (one-pixel
# outlines are rarely pure), text 1); blurred VAE samples have 0 to 0.01.
PURE_INK = {"objects": 0.15, "clock": 0.12, "quantity": 0.03, "text": 0.5}
OBJECT_INTERIOR = 0.25     # farthest an object's inside may be, on average, from its palette colour
OBJECT_MISMATCH = 0.25     # most of the covered pixels that may differ from the objects drawn back
MISMATCH_DISTANCE = 0.3    # a drawn-back pixel differs when it is this far from the image's
SIGN_MISMATCH = 0.02       # most board pixels that may differ from the word drawn back (renders: none)
RIM_DARK = 0.85            # least share of the rim circle that must be dark
FACE_DARK = (0.02, 0.25)   # the share of the face (inside 0.7 R) that the hands darken
LEVEL_PIXELS = 0.06        # vessels' heights and tops may differ by this share of the image side
DRAWN_OUTSIDE = 0.005      # most pixels drawn beside a sign or a row of vessels (renders: none)


def _rgb(colour) -> np.ndarray:
    return np.asarray(colour, dtype=np.float32) / 255.0


INK, FACE, LETTER = _rgb(palette.INK_RGB), _rgb(palette.CLOCK_FACE_RGB), _rgb(palette.SIGN_LETTER_RGB)
BOARDS = np.stack([_rgb(c) for c in palette.SIGN_BOARD_RGB])
OBJECT_INKS = {name: _rgb(rgb) for name, rgb in palette.OBJECT_RGB.items()}


@dataclass(frozen=True)
class SceneReading:
    """What an image reads as, without a prompt."""

    kind: str | None                   # the one kind that reads cleanly; None when none or several do
    readable: tuple[str, ...] = ()     # every kind that reads cleanly
    reason: str = ""                   # why it is not accepted, when it is not
    objects: tuple[tuple[str, str], ...] = ()  # (colour, shape) of each object read, largest first

    @property
    def ok(self) -> bool:
        return self.kind is not None

    @property
    def mode(self) -> str | None:
        """The kind, and for objects scenes the colour and shape of the largest object: "objects: red star"."""
        if self.kind == "objects":
            return "objects: " + " ".join(self.objects[0])
        return self.kind


def read_scene_kind(image: np.ndarray) -> SceneReading:
    """Which kind of world scene `image` (H x W x 3 uint8, or floats in [0, 1]) shows; see the module."""
    pixels = _as_pixels(image)
    background = border_colour(pixels)
    frame = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    spread = float(np.median(np.abs(frame - background).max(axis=1)))
    if spread > BACKGROUND_SPREAD or nearest(background, BACKGROUND_PALETTE)[1] > BACKGROUND_TOLERANCE:
        return SceneReading(None, reason="no plain world background")
    if not (np.linalg.norm(pixels - background, axis=2) > FOREGROUND_DISTANCE).any():
        return SceneReading(None, reason="blank: nothing on the background")
    clean, reasons, objects = [], [], ()
    for kind, reader in _READERS.items():
        try:
            seen = reader(pixels, background)
        except UnreadableScene as why:
            reasons.append(f"{kind}: {why}")
            continue
        clean.append(kind)
        if kind == "objects":
            objects = seen
    if len(clean) == 1:
        return SceneReading(clean[0], tuple(clean), objects=objects if clean[0] == "objects" else ())
    if clean:
        return SceneReading(None, tuple(clean), reason=f"reads as {' and '.join(clean)} at once")
    return SceneReading(None, reason="; ".join(reasons))


def _as_pixels(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] != image.shape[1] or image.shape[0] not in IMAGE_SIZES:
        raise ValueError(f"need a square H x W x 3 image of side {IMAGE_SIZES}, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if not np.issubdtype(image.dtype, np.floating) or not np.isfinite(image).all():
        raise ValueError(f"need uint8 pixels or finite floats in [0, 1], got {image.dtype}")
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _check_inks(pixels: np.ndarray, inks: list[np.ndarray], what: str, kind: str) -> None:
    """UnreadableScene when more than UNEXPLAINED_SHARE of the pixels are no blend of two of `inks`
    (the background first), or when too few of the pixels off the background are an ink itself (PURE_INK)."""
    flat = pixels.reshape(-1, 3)
    best = np.full(len(flat), np.inf, dtype=np.float32)
    for i, a in enumerate(inks):
        for b in inks[i:]:
            span = b - a
            t = np.clip((flat - a) @ span / max(float(span @ span), 1e-8), 0.0, 1.0)  # (P,)
            best = np.minimum(best, np.linalg.norm(flat - a - t[:, None] * span, axis=1))
    share = float((best > INK_TOLERANCE).mean())
    if share > UNEXPLAINED_SHARE:
        raise UnreadableScene(f"{100 * share:.0f}% of the pixels are no blend of {what}")
    drawn = np.linalg.norm(flat - inks[0], axis=1) > FOREGROUND_DISTANCE
    pure = np.min([np.linalg.norm(flat[drawn] - ink, axis=1) for ink in inks[1:]], axis=0) <= INK_TOLERANCE
    share = float(pure.mean()) if drawn.any() else 0.0
    if share < PURE_INK[kind]:
        raise UnreadableScene(f"only {100 * share:.0f}% of the drawn pixels are {what} themselves: a blur")


def _check_within(pixels: np.ndarray, background: np.ndarray, boxes: list[tuple[int, int, int, int]], what: str):
    """UnreadableScene when more than DRAWN_OUTSIDE of the pixels are drawn (off the background) outside the
    boxes (x0, y0, x1, y1, inclusive) grown by a pixel."""
    outside = np.linalg.norm(pixels - background, axis=2) > FOREGROUND_DISTANCE
    for x0, y0, x1, y1 in boxes:
        outside[max(0, y0 - 1):y1 + 2, max(0, x0 - 1):x1 + 2] = False
    if outside.mean() > DRAWN_OUTSIDE:
        raise UnreadableScene(f"{100 * outside.mean():.1f}% of the pixels are drawn outside the {what}")


def _drawn(size: int, background: np.ndarray, draw_on) -> np.ndarray:
    """Pixels (float, size x size x 3) of `draw_on(draw)` on a CANVAS-side background, reduced like render."""
    canvas = Image.new("RGB", (CANVAS, CANVAS), tuple(int(round(255 * c)) for c in background))
    draw_on(ImageDraw.Draw(canvas))
    return np.asarray(canvas.reduce(CANVAS // size), dtype=np.float32) / 255.0


def _objects(pixels: np.ndarray, background: np.ndarray) -> tuple[tuple[str, str], ...]:
    seen = read_objects(pixels, background)
    if not 1 <= len(seen) <= MAX_OBJECTS:
        raise UnreadableScene(f"{len(seen)} objects; a scene holds 1 to {MAX_OBJECTS}")
    _check_inks(pixels, [background] + [OBJECT_INKS[o.colour] for o in seen], "the object colours", "objects")

    def draw_back(draw: ImageDraw.ImageDraw) -> None:
        for o in seen:
            draw_shape(draw, o.shape, o.cx * CANVAS, o.cy * CANVAS, SIZE_FRACTION[o.size] / 2 * CANVAS,
                       palette.OBJECT_RGB[o.colour])

    back = _drawn(len(pixels), background, draw_back)
    distance = np.linalg.norm(pixels - back, axis=2)
    plain = np.round(255 * background) / 255  # the background as the canvas holds it
    drawn_back = (np.abs(back - plain) > 1e-3).any(axis=2)
    covered = (np.linalg.norm(pixels - background, axis=2) > FOREGROUND_DISTANCE) | drawn_back
    share = float((distance > MISMATCH_DISTANCE).sum() / max(covered.sum(), 1))
    if share > OBJECT_MISMATCH:
        raise UnreadableScene(f"the objects drawn back differ in {100 * share:.0f}% of their pixels")
    for o in seen:  # inside each object drawn back (pixels it covers whole), the image shows its colour
        inside = np.abs(back - OBJECT_INKS[o.colour]).max(axis=2) < 1e-3
        if not inside.any() or distance[inside].mean() > OBJECT_INTERIOR:
            raise UnreadableScene(f"the {o.colour} {o.shape} is not {o.colour} inside")
    return tuple((o.colour, o.shape) for o in sorted(seen, key=lambda o: -o.side))


def _clock(pixels: np.ndarray, background: np.ndarray):
    clock = read_clock(pixels)
    _check_inks(pixels, [background, INK, FACE], "clock ink and face", "clock")
    luma = luminance(pixels)
    pieces = connected_components(luma < DARK_LUMA, min_area=2)
    ys, xs = np.concatenate([p.ys for p in pieces]), np.concatenate([p.xs for p in pieces])
    cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
    radius = (xs.max() - xs.min() + ys.max() - ys.min() + 2) / 4
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)[:, None]  # (angle, radius across the rim)
    rim = radius * (1 - CLOCK_RIM * np.array([1.2, 0.5, -0.2]))
    rim_x = np.clip((cx + rim * np.sin(angles)).astype(int), 0, len(luma) - 1)
    rim_y = np.clip((cy - rim * np.cos(angles)).astype(int), 0, len(luma) - 1)
    rim_dark = float((luma[rim_y, rim_x].min(axis=1) < DARK_LUMA).mean())
    if rim_dark < RIM_DARK:
        raise UnreadableScene(f"the rim is dark on {100 * rim_dark:.0f}% of its circle")
    grid_y, grid_x = np.mgrid[0:len(luma), 0:len(luma)] + 0.5
    face = np.hypot(grid_x - cx, grid_y - cy) < 0.7 * radius
    face_dark = float((luma[face] < DARK_LUMA).mean())
    if not FACE_DARK[0] <= face_dark <= FACE_DARK[1]:
        raise UnreadableScene(f"the hands darken {100 * face_dark:.0f}% of the face")
    return clock


def _quantity(pixels: np.ndarray, background: np.ndarray):
    vessels = read_quantity(pixels, background)
    size = len(pixels)
    if not MIN_VESSELS <= len(vessels.vessels) <= MAX_VESSELS:
        raise UnreadableScene(f"{len(vessels.vessels)} vessels; a scene holds {MIN_VESSELS} to {MAX_VESSELS}")
    # a scene's vessels are of one kind, but at 32 pixels the reader takes a thin glass for a bar now and
    # then: the liquids of every kind read
    liquids = [_rgb(palette.LIQUID_RGB[kind]) for kind in sorted(set(vessels.vessels))]
    _check_inks(pixels, [background, INK, *liquids], "outline and liquid", "quantity")
    tall = [c.box for c in connected_components(pixels.max(axis=2) < DARK_VALUE, min_area=3)
            if c.box[3] - c.box[1] + 1 > 0.2 * size]
    if len(tall) != len(vessels.vessels):
        raise UnreadableScene(f"{len(vessels.vessels)} vessels read from {len(tall)} whole outlines")
    _check_within(pixels, background, tall, "vessels")
    tops, bottoms = np.array([b[1] for b in tall]), np.array([b[3] for b in tall])
    if np.ptp(tops) > LEVEL_PIXELS * size or np.ptp(bottoms) > LEVEL_PIXELS * size:
        raise UnreadableScene("the vessels are not of one height on one level")
    return vessels


def _text(pixels: np.ndarray, background: np.ndarray) -> str:
    word = read_text(pixels)
    if not MIN_WORD <= len(word) <= MAX_WORD:
        raise UnreadableScene(f"a word of {len(word)} letters; signs carry {MIN_WORD} to {MAX_WORD}")
    board = connected_components(luminance(pixels) < BOARD_LUMA, min_area=12)[0]
    x0, y0, x1, y1 = board.box
    _check_within(pixels, background, [board.box], "sign")
    board_ink = BOARDS[nearest(np.median(pixels[board.ys, board.xs], axis=0), BOARDS)[0]]
    _check_inks(pixels, [background, board_ink, LETTER], "sign board and letters", "text")
    scale = sign_letter_scale(len(word), len(pixels))
    letters = np.repeat(np.repeat(word_bitmap(word), scale, axis=0), scale, axis=1)
    drawn = np.broadcast_to(board_ink, (y1 + 1 - y0, x1 + 1 - x0, 3)).copy()
    top = (drawn.shape[0] - GLYPH_HEIGHT * scale) // 2
    left = (drawn.shape[1] - (LETTER_PITCH * len(word) - 1) * scale) // 2
    if top < 1 or left < 1:
        raise UnreadableScene("the board is too small for its word")
    drawn[top:top + letters.shape[0], left:left + letters.shape[1]][letters] = LETTER
    differ = np.linalg.norm(pixels[y0:y1 + 1, x0:x1 + 1] - drawn, axis=2) > MISMATCH_DISTANCE
    if differ.mean() > SIGN_MISMATCH:
        raise UnreadableScene(f"the word drawn back differs in {100 * differ.mean():.0f}% of the board")
    return word


_READERS = {"objects": _objects, "clock": _clock, "quantity": _quantity, "text": _text}
