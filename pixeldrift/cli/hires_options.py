"""`generate --hires-scale`: the hires fix's options (pipeline/hires_fix.py), read and checked by flag."""

from __future__ import annotations

from pathlib import Path

import click

from pixeldrift.pipeline.hires_fix import MAX_SCALE, UPSCALERS, HiresError, HiresFix
from pixeldrift.sampling.sigma_schedules import MAX_STEPS

FLAGS = {"scale": "--hires-scale", "resize": "--hires-scale", "upscaler": "--hires-upscaler",
         "strength": "--hires-strength", "steps": "--hires-steps"}
_DEFAULTS = HiresFix()


def hires_options(command):
    """Add the --hires-* options; the command receives them as keyword arguments."""
    options = [
        click.option("--hires-scale", type=click.FloatRange(1, MAX_SCALE, min_open=True),
                     help="Hires fix (AUTOMATIC1111's): draw at the model's size, enlarge this many times "
                          f"(above 1, at most {MAX_SCALE:g}), then redraw the details by image-to-image."),
        click.option("--hires-strength", type=click.FloatRange(0, 1),
                     help=f"With --hires-scale: the second pass's denoising strength (default "
                          f"{_DEFAULTS.strength}); 0 keeps the enlarged image."),
        click.option("--hires-upscaler", type=click.Choice(list(UPSCALERS)),
                     help=f"With --hires-scale: how to enlarge (default {_DEFAULTS.upscaler}; sr with "
                          "--hires-upscaler-model): latent* resize the latents, the others the decoded image, sr by "
                          "the trained super-resolution model."),
        click.option("--hires-upscaler-model", type=click.Path(file_okay=False, path_type=Path),
                     help="With --hires-scale: an upscaler folder (pixeldrift train upscaler): the first pass is "
                          "enlarged by it (--hires-upscaler sr), then fitted to the size by Lanczos."),
        click.option("--hires-steps", type=click.IntRange(0, MAX_STEPS),
                     help="With --hires-scale: the second pass's steps, of which it runs the last "
                          "steps x strength (default 0: --steps)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def hires_from(options: dict, **conflicts) -> HiresFix | None:
    """The hires fix the options ask for, or None; `conflicts` are the other options' values that it cannot
    take (e.g. init_image=...): a usage error names them, before any model is loaded."""
    scale, strength, upscaler, steps, folder = (options.pop(f"hires_{k}") for k in
                                                ("scale", "strength", "upscaler", "steps", "upscaler_model"))
    if scale is None:
        for flag, value in (("--hires-strength", strength), ("--hires-upscaler", upscaler), ("--hires-steps", steps),
                            ("--hires-upscaler-model", folder)):
            if value is not None:
                raise click.BadParameter("needs --hires-scale (how many times to enlarge)", param_hint=flag)
        return None
    for name, value in conflicts.items():
        if value:
            raise click.BadParameter(f"the hires fix enlarges a text-to-image generation; it cannot take "
                                     f"--{name.replace('_', '-')}", param_hint="--hires-scale")
    upscaler = upscaler or ("sr" if folder is not None else _DEFAULTS.upscaler)
    if (upscaler == "sr") != (folder is not None):
        raise click.BadParameter("--hires-upscaler sr goes with --hires-upscaler-model FOLDER (a trained upscaler), "
                                 "and that folder with sr alone", param_hint="--hires-upscaler-model")
    return HiresFix(scale=scale, strength=_DEFAULTS.strength if strength is None else strength, upscaler=upscaler,
                    steps=steps or 0,
                    upscaler_model=None if folder is None else _load_upscaler(folder, options.get("device", "cpu")))


def _load_upscaler(folder: Path, device: str):
    from pixeldrift.pipeline.upscaler_folder import load_upscaler
    try:
        return load_upscaler(folder, device)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--hires-upscaler-model") from None


def validated(model, request):
    """The request validated for the model; a hires size the model cannot make is a usage error naming the flag."""
    try:
        return request.validated(model.sampling_defaults, model.limits)
    except HiresError as error:
        raise click.BadParameter(str(error), param_hint=FLAGS[error.field]) from None
