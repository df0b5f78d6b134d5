"""Control maps drawn from a scene spec, for ControlNet (Zhang et al. 2023) and plan-then-draw.

Each map replays the renderer's seed (render.begin_scene), so with the same (spec,
size, seed) it lines up with ``render``'s picture pixel for pixel; training gets
its maps for free and a benchmark can hand the ground truth's map to a model.

    layout   every object filled with its own colour, shapes as the world draws them,
             on one neutral grey (a colour segmentation map; Zhang et al.'s "segmentation")
    glyph    a sign's text, black on white where the sign shows it, no board (as GlyphControl,
             Yang et al. 2023, renders text plainly); white for scenes without a sign
    clock    a sketch of a clock: its rim as a circle and its two hands, black on white
             (white without a clock)

A layout a user hands in (labelled boxes, no scene) is drawn as a layout map too
(boxes_layout_map), so plan-then-draw takes it like the plan of a prompt.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.world import palette
from pixeldrift.world.render import CANVAS, begin_scene, clock_geometry, clock_hands, render
from pixeldrift.world.shapes import draw_shape
from pixeldrift.world.spec import IMAGE_SIZES, ClockScene, Scene, SpecError, TextScene

NEUTRAL_RGB = (128, 128, 128)  # the layout map's background: no object colour is near it
PAPER, INK = 255, 0
RIM_WIDTH = 0.04  # the clock sketch's rim line, in face radii


def layout_map(spec: Scene, size: int = 64, seed: int = 0) -> np.ndarray:
    """(size, size, 3) uint8: the scene's objects in their colours on NEUTRAL_RGB."""
    return render(spec, size, seed, background_rgb=NEUTRAL_RGB)


def clip_layout_maps(clip, frames: int = 8, size: int = 64, seed: int = 0) -> np.ndarray:
    """(frames, size, size, 3) uint8: the layout map of every frame of a clip (world/motion.py), lined up with
    ``render_clip(clip, frames, size, seed)``: the moving objects where that frame draws them, the clock's hands,
    the vessels' levels and the sign's letters shown so far, on NEUTRAL_RGB."""
    from pixeldrift.world.motion import render_clip  # motion.py draws with render, as this module does

    return render_clip(clip, frames, size, seed, background_rgb=NEUTRAL_RGB)


def boxes_layout_map(boxes, size: int = 64) -> np.ndarray:
    """(size, size, 3) uint8: a layout map of boxes rather than a scene, for a layout a user hands in.

    `boxes`: (colour, shape, (x0, y0, x1, y1)) in the image's pixels; each shape fills its box as the
    world's shapes fill theirs, drawn supersampled like render so its edges look the same; later boxes
    are drawn over earlier ones."""
    if size not in IMAGE_SIZES:
        raise SpecError(f"size: {size!r} is not accepted; accepted: {', '.join(map(str, IMAGE_SIZES))}")
    canvas = Image.new("RGB", (CANVAS, CANVAS), NEUTRAL_RGB)
    draw, scale = ImageDraw.Draw(canvas), CANVAS / size
    for colour, shape, (x0, y0, x1, y1) in boxes:
        draw_shape(draw, shape, (x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale, (x1 - x0) / 2 * scale,
                   palette.OBJECT_RGB[colour], half_height=(y1 - y0) / 2 * scale)
    return np.array(canvas.reduce(CANVAS // size))


def glyph_map(spec: Scene, size: int = 64, seed: int = 0) -> np.ndarray:
    """(size, size, 3) uint8: the sign's letters in black on white, where render puts them."""
    if not isinstance(spec, TextScene):
        return _ink(np.zeros((size, size), bool))
    return _ink(np.all(render(spec, size, seed) == palette.SIGN_LETTER_RGB, axis=-1))


def clock_map(spec: Scene, size: int = 64, seed: int = 0) -> np.ndarray:
    """(size, size, 3) uint8: the clock's rim and hands in black on white, where render puts them."""
    rng, spec, _ = begin_scene(spec, size, seed)
    canvas = Image.new("L", (CANVAS, CANVAS), PAPER)
    if isinstance(spec, ClockScene):
        cx, cy, radius = clock_geometry(rng)
        draw = ImageDraw.Draw(canvas)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=INK,
                     width=max(1, round(RIM_WIDTH * radius)))
        clock_hands(draw, spec, cx, cy, radius, fill=INK)
    grey = np.array(canvas.reduce(CANVAS // size))
    return np.repeat(grey[:, :, None], 3, axis=2)


def _ink(mask: np.ndarray) -> np.ndarray:
    out = np.full((*mask.shape, 3), PAPER, dtype=np.uint8)
    out[mask] = INK
    return out


# kind -> map(spec, size, seed)
SCENE_MAPS: dict[str, Callable[[Scene, int, int], np.ndarray]] = {
    "layout": layout_map, "glyph": glyph_map, "clock": clock_map}
