"""`pixeldrift control KIND`: make a control map; and the --control options of `pixeldrift generate`."""

from __future__ import annotations

import functools
from pathlib import Path

import click
import numpy as np
from PIL import Image

from pixeldrift.cli.generation_options import open_image

KINDS = ("edges", "scribble", "layout", "glyph", "clock")  # pipeline/control_maps.CONTROL_KINDS
FILE = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("kind")
@click.argument("image", type=FILE, required=False)
@click.option("--prompt", help="For layout, glyph and clock: the world scene to draw, as a prompt "
                               "(e.g. 'three red circles above a blue square').")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="With --prompt: the scene's seed (where things go), as `pixeldrift world` renders it.")
@click.option("--size", type=click.Choice(["32", "64", "128"]), default="64", show_default=True,
              help="With --prompt: the map's side in pixels.")
@click.option("-o", "--output", type=FILE, required=True, help="The map, a .png file.")
def control(kind, image, prompt, seed, size, output):
    """Make a control map for ControlNet: edges or scribble of IMAGE, or layout, glyph or clock of a world
    scene given as --prompt.

    \b
    Examples:
      pixeldrift control edges photo.png -o edges.png
      pixeldrift control scribble photo.png -o sketch.png
      pixeldrift control layout --prompt "three red circles above a blue square" --seed 3 -o layout.png
    """
    from pixeldrift.pipeline.control_maps import CONTROL_KINDS, IMAGE_MAPS, check_kind, image_control, world_control
    from pixeldrift.world import PromptError, parse_prompt

    try:
        check_kind(kind)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="KIND") from None
    if output.suffix.lower() != ".png" or not output.parent.is_dir():
        raise click.BadParameter(f"{str(output)!r} must be a .png file in an existing folder", param_hint="-o")
    if kind in IMAGE_MAPS:
        if image is None or prompt is not None:
            raise click.UsageError(f"the {kind} map is made from an image: pixeldrift control {kind} IMAGE -o OUT.png")
        made = image_control(kind, np.asarray(open_image(image)))
    else:
        if prompt is None or image is not None:
            raise click.UsageError(f"the {kind} map is drawn from a world scene: pixeldrift control {kind} --prompt "
                                   f"TEXT -o OUT.png (from an image: {', '.join(k for k in CONTROL_KINDS if k in IMAGE_MAPS)})")
        try:
            made = world_control(kind, parse_prompt(prompt), int(size), seed)
        except PromptError as error:
            raise click.BadParameter(str(error), param_hint="--prompt") from None
    Image.fromarray(made).save(output)
    click.echo(f"wrote {output}")


_OPTIONS = [
    click.option("--control", "control_folders", multiple=True, type=click.Path(exists=True, path_type=Path),
                 help="A ControlNet for the model: a folder from `pixeldrift train controlnet`, or for a Stable "
                      "Diffusion model a ControlNet's diffusers folder or .safetensors file; repeat for several "
                      "controls at once (their residuals add up)."),
    click.option("--control-image", "control_images", multiple=True, type=FILE,
                 help="The control map for each --control, in the same order (make one with `pixeldrift control`)."),
    click.option("--control-strength", "control_strengths", multiple=True, type=click.FloatRange(0, 5),
                 help="How strongly each control steers: one for all, or one per --control (default 1)."),
    click.option("--control-start", type=click.FloatRange(0, 1), default=0.0, show_default=True,
                 help="The fraction of the steps after which the controls start to act."),
    click.option("--control-end", type=click.FloatRange(0, 1), default=1.0, show_default=True,
                 help="The fraction of the steps after which they stop."),
    click.option("--control-resize", is_flag=True,
                 help="Resize control images of another size than the image to generate (else refused)."),
]


def control_options(command):
    """Add the --control options; the command receives them as keyword arguments."""
    return functools.reduce(lambda f, option: option(f), reversed(_OPTIONS), command)


def controls_from(options: dict, device: str) -> tuple:
    """The Control entries the options describe, every folder and image opened and checked here."""
    from pixeldrift.pipeline.control import Control
    from pixeldrift.pretrained import open_controlnet

    folders, images, strengths = (options.pop(k) for k in ("control_folders", "control_images", "control_strengths"))
    start, end, resize = (options.pop(k) for k in ("control_start", "control_end", "control_resize"))
    if len(images) != len(folders):
        raise click.BadParameter(f"{len(folders)} --control folder(s) need as many --control-image maps, got "
                                 f"{len(images)}", param_hint="--control-image")
    weights = per_control_strengths(strengths, len(folders), default=1.0)
    return tuple(Control(open_controlnet(folder, device=device), open_image(image), weight, start, end, resize)
                 for folder, image, weight in zip(folders, images, weights))


def per_control_strengths(strengths: tuple, count: int, default: float) -> tuple[float, ...]:
    """One strength per control from the repeated --control-strength: none (each gets `default`), one for
    all, or one per control; BadParameter otherwise."""
    if len(strengths) not in (0, 1, count):
        raise click.BadParameter(f"give one --control-strength for all, or one per --control ({count})",
                                 param_hint="--control-strength")
    return tuple(strengths) * count if len(strengths) == 1 else tuple(strengths) or (default,) * count
