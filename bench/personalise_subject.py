"""The subject bench/personalise.py teaches: a crescent, a shape the world never draws (its silhouette's
IoU with every world shape is at most 0.58), drawn the way the world draws, and its training folder.
Imported by that script, not run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.world.layout import SIZE_FRACTION
from pixeldrift.world.palette import BACKGROUND_RGB, OBJECT_RGB
from pixeldrift.world.render import CANVAS
from pixeldrift.world.shapes import draw_shape

IDENTIFIER = "sks"
TRAINING_COLOURS = ("red", "green", "yellow", "purple", "cyan")  # one image each, in different places


def crescent(side: int = 256) -> np.ndarray:
    """A crescent opening to the right, filling a side x side box: a disc less a larger, offset one."""
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, side - 1, side - 1), fill=255)
    draw.ellipse((0.35 * side, -0.05 * side, 1.3 * side, 1.05 * side), fill=0)
    mask = np.asarray(image) > 127
    ys, xs = np.nonzero(mask)
    crop = Image.fromarray(mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.uint8) * 255)
    return np.asarray(crop.resize((side, side), Image.Resampling.NEAREST)) > 127


def draw_scene(colour: str, centre: tuple[float, float], background: str = "white", size: int = 64,
               other: tuple[str, str, tuple[float, float]] | None = None) -> np.ndarray:
    """The subject in `colour` at `centre` (fractions of the side), world-sized ("large"), on a world
    background, 4x supersampled as the world's renderer does; `other`: (shape, colour, centre) of a world
    object beside it."""
    image = Image.new("RGB", (CANVAS, CANVAS), BACKGROUND_RGB[background])
    side = round(SIZE_FRACTION["large"] * CANVAS)
    stencil = Image.fromarray(crescent(side).astype(np.uint8) * 255)
    image.paste(OBJECT_RGB[colour], (round(centre[0] * CANVAS - side / 2), round(centre[1] * CANVAS - side / 2)),
                stencil)
    if other is not None:
        shape, other_colour, (x, y) = other
        draw_shape(ImageDraw.Draw(image), shape, x * CANVAS, y * CANVAS, side / 2, OBJECT_RGB[other_colour])
    return np.asarray(image.reduce(CANVAS // size))


# The subject beside a world object in three of the five images: (relation, the subject's centre, the
# other's shape, colour and centre). None of them is "to the left of" or a blue square, the scene measured.
CONTEXTS = (None, ("above", (0.5, 0.28), "circle", "yellow", (0.5, 0.72)),
            ("to the right of", (0.72, 0.45), "triangle", "orange", (0.28, 0.55)), None,
            ("below", (0.45, 0.72), "star", "red", (0.55, 0.28)))


def write_subject_folder(folder: Path, seed: int = 0, context: bool = False) -> Path:
    """The training images: one per TRAINING_COLOURS, at random places on random backgrounds, each with its
    caption in a .txt beside it ("a red sks shape"), the layout kohya's trainers read. With `context`, three
    of them show the subject beside a world object instead ("a green sks shape above a yellow circle"), as
    a photographer's few pictures of a subject show it among other things."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index, colour in enumerate(TRAINING_COLOURS):
        centre = (rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8))
        background = rng.choice(sorted(BACKGROUND_RGB))
        caption, other = f"a {colour} {IDENTIFIER} shape", None
        if context and CONTEXTS[index] is not None:
            relation, centre, shape, other_colour, other_centre = CONTEXTS[index]
            article = "an" if other_colour[0] in "aeiou" else "a"
            caption = f"{caption} {relation} {article} {other_colour} {shape}"
            other = (shape, other_colour, other_centre)
        Image.fromarray(draw_scene(colour, centre, background, other=other)).save(folder / f"{index}.png")
        (folder / f"{index}.txt").write_text(caption + "\n")
    (folder / "subject.json").write_text(json.dumps({"subject": "crescent", "seed": seed, "context": context}) + "\n")
    return folder
