"""`generate --hires-scale`: the hires fix's options (pipeline/hires_fix.py), read and checked by flag."""

from __future__ import annotations

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
                     help=f"With --hires-scale: how to enlarge (default {_DEFAULTS.upscaler}): latent* resize the "
                          "latents, the others the decoded image."),
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
    scale, strength, upscaler, steps = (options.pop(f"hires_{k}") for k in ("scale", "strength", "upscaler", "steps"))
    if scale is None:
        for flag, value in (("--hires-strength", strength), ("--hires-upscaler", upscaler), ("--hires-steps", steps)):
            if value is not None:
                raise click.BadParameter("needs --hires-scale (how many times to enlarge)", param_hint=flag)
        return None
    for name, value in conflicts.items():
        if value:
            raise click.BadParameter(f"the hires fix enlarges a text-to-image generation; it cannot take "
                                     f"--{name.replace('_', '-')}", param_hint="--hires-scale")
    return HiresFix(scale=scale, strength=_DEFAULTS.strength if strength is None else strength,
                    upscaler=upscaler or _DEFAULTS.upscaler, steps=steps or 0)


def validated(model, request):
    """The request validated for the model; a hires size the model cannot make is a usage error naming the flag."""
    try:
        return request.validated(model.sampling_defaults, model.limits)
    except HiresError as error:
        raise click.BadParameter(str(error), param_hint=FLAGS[error.field]) from None
