"""`pixeldrift upscale`: an image enlarged by a trained super-resolution model (pipeline/upscaler.py)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from PIL import Image, ImageOps

from pixeldrift.cli.generate import _check_output
from pixeldrift.cli.generation_options import open_image, reported
from pixeldrift.pipeline.model_folder import DEFAULT_MODEL_DIR
from pixeldrift.pipeline.request import GeneratedImage
from pixeldrift.pipeline.upscaler import SCHEDULES, UpscaleSettings
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import MAX_STEPS

DEFAULT_UPSCALER_DIR = DEFAULT_MODEL_DIR.parent / "upscaler"


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "model_path", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_UPSCALER_DIR, help="An upscaler folder (pixeldrift train upscaler --export FOLDER); "
                                                "models/upscaler by default.")
@click.option("--sampler", type=click.Choice(list(SAMPLERS)), help="Any sampler [the model's default].")
@click.option("--steps", type=click.IntRange(1, MAX_STEPS), help="Sampler steps [the model's default].")
@click.option("--schedule", type=click.Choice(SCHEDULES), help="Sigma schedule [the model's default].")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--resize", is_flag=True,
              help="Fit IMAGE to the side the model takes first (centre-cropped to a square; box-reduced when "
                   "larger, bicubic when smaller); without it an image of another size is refused.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("-o", "--out", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .png to write (labelled as AI-generated, like generate's).")
def upscale(image, model_path, sampler, steps, schedule, seed, resize, device, no_watermark, output):
    """Enlarge IMAGE with a trained super-resolution diffusion model (SR3); writes a labelled PNG.

    The model samples a new image at 4x the side from noise, every step conditioned on IMAGE
    enlarged by bicubic interpolation, so it draws sharp edges where bicubic blurs. IMAGE must be
    the side the model takes (64x64 for `train upscaler`'s models) unless --resize is given.

    \b
    Examples:
      pixeldrift upscale small.png --model models/upscaler -o big.png
      pixeldrift upscale photo.jpg --model models/upscaler --resize --sampler heun --steps 10 -o big.png
    """
    _check_output(output, None, 1)
    from pixeldrift.pipeline.upscaler_folder import load_upscaler
    if model_path == DEFAULT_UPSCALER_DIR and not model_path.is_dir():
        raise click.BadParameter(f"no upscaler folder at {model_path}: train one (pixeldrift train upscaler --export "
                                 f"{model_path}) or name one with --model", param_hint="--model")
    picture = open_image(image)
    started = time.perf_counter()
    model = reported(lambda: load_upscaler(model_path, device=device))
    side = model.config.low_res_size
    if resize:
        picture = fitted(picture, side)
    elif picture.size != (side, side):
        raise click.BadParameter(f"{image.name} is {picture.width}x{picture.height}; the upscaler {model.name!r} "
                                 f"takes {side}x{side} images (add --resize to fit it)", param_hint="IMAGE")
    settings = UpscaleSettings(sampler=sampler, steps=steps, schedule=schedule)
    result = reported(lambda: model.upscale_images([picture], [seed], settings))[0]
    GeneratedImage(result, model.record(settings, seed, image.name)).save(output, watermark=not no_watermark)
    click.echo(f"wrote {output} ({picture.width}x{picture.height} -> {result.width}x{result.height}) "
               f"in {time.perf_counter() - started:.1f} s")


def fitted(picture: Image.Image, side: int) -> Image.Image:
    """The image centre-cropped to a square and resized to side x side: box-reduced (as the model's training
    inputs were made) when larger, bicubic when smaller."""
    method = Image.Resampling.BOX if min(picture.size) >= side else Image.Resampling.BICUBIC
    return ImageOps.fit(picture, (side, side), method)
