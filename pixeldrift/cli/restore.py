"""`pixeldrift restore`: a degraded image back to a sharp one by posterior sampling with the model as prior."""

from __future__ import annotations

import time
from pathlib import Path

import click

from pixeldrift.applications import inverse_problems as ip
from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.cli.generate import _check_output
from pixeldrift.cli.generation_options import open_image, reported
from pixeldrift.pipeline.pixels import pixels_to_images
from pixeldrift.pipeline.request import GeneratedImage
from pixeldrift.pretrained import open_model
from pixeldrift.safety.moderation import PromptTooLong, check_prompt_length
from pixeldrift.sampling.samplers import SAMPLERS


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--task", type=click.Choice(ip.TASKS), required=True,
              help="sr4: IMAGE is a quarter of the model's size, restored 4x; deblur: a Gaussian blur (sigma 2); "
                   "motion: a 9-pixel line blur at 30 degrees; inpaint: the pixels --mask marks are missing.")
@click.option("--method", type=click.Choice(ip.METHODS), default="dps", show_default=True,
              help="dps: diffusion posterior sampling (Chung et al. 2023); pigdm: pseudoinverse-guided diffusion "
                   "(Song et al. 2023).")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --task inpaint: an image of IMAGE's size, white where pixels are missing.")
@click.option("--simulate", is_flag=True,
              help="IMAGE is clean: degrade it by the task (noise --noise; inpaint hides a random box from --seed) "
                   "and restore that; the degraded image is written beside the output as *-degraded.png.")
@click.option("--noise", type=click.FloatRange(1e-4, 1), default=ip.NOISE_STD, show_default=True,
              help="sigma_y, the measurement's noise in pixels of [-1, 1]: --simulate adds it; Pi-GDM weighs the "
                   "residual by it (DPS's normalised step does not use it).")
@click.option("--prompt", default="", help="What the image shows (a caption steers the prior); none by default.")
@click.option("--steps", type=click.IntRange(1, 1000), default=200, show_default=True,
              help="Sampler steps: DPS needs many (on 200 world scenes Gaussian deblurring verified 73% at 50 "
                   "steps, 81% at 200; a step costs the same at every count).")
@click.option("--sampler", type=click.Choice(list(SAMPLERS)), default="euler_ancestral", show_default=True)
@click.option("--zeta", type=click.FloatRange(0, ip.MAX_ZETA),
              help="DPS's step size per measured element and unit of ||A||^2 (3/16 by default) / Pi-GDM's "
                   "guidance weight (1).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="A model folder or checkpoint; the embedded default when omitted.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("-o", "--out", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .png to write (labelled as AI-generated, like generate's).")
def restore(image, task, method, mask_path, simulate, noise, prompt, steps, sampler, zeta, seed, model_path, device,
            no_watermark, output):
    """Restore IMAGE, a degraded picture, with the model as the prior; writes a labelled PNG.

    The degradation must be the task's own (the operator is known: that is what makes this an
    inverse problem, not guesswork). IMAGE is not resized: for sr4 it must be a quarter of a
    size the model makes (16x16 for the default model), for the others a size the model makes.

    \b
    Examples:
      pixeldrift restore small.png --task sr4 --prompt "a red circle left of a blue square" -o big.png
      pixeldrift restore scene.png --task deblur --simulate -o sharp.png
      pixeldrift restore holed.png --task inpaint --mask hole.png --method pigdm -o filled.png
    """
    _check_output(output, None, 1)
    try:
        check_prompt_length(prompt)
    except PromptTooLong as error:
        raise click.BadParameter(str(error), param_hint="--prompt") from None
    if (mask_path is not None) != (task == "inpaint" and not simulate):
        raise click.BadParameter("--mask goes with --task inpaint (and not with --simulate), and inpainting needs "
                                 "one unless --simulate draws a box", param_hint="--mask")
    settings = ip.RestoreSettings(task=task, method=method, steps=steps, sampler=sampler, zeta=zeta,
                                  noise_std=noise, seed=seed)
    reported(settings.check)
    picture, missing = open_image(image), open_image(mask_path, "L")
    started = time.perf_counter()
    model = reported(lambda: open_model(model_path, device=device))
    y, operator = reported(lambda: ip.image_measurement(model, task, picture, missing, simulate, seed, noise))
    restored = reported(lambda: ip.restore(model, y, operator, [prompt], settings))
    result = pixels_to_images(restored)[0]
    record = ip.restore_record(settings, prompt, model.name, result.size, image.name, simulate)
    GeneratedImage(result, record).save(output, watermark=not no_watermark)
    if simulate:
        degraded = output.with_name(output.stem + "-degraded.png")
        write_bytes_atomically(degraded, ip.measurement_png(y, record, watermark=not no_watermark))
        click.echo(f"wrote {degraded} (the simulated measurement)")
    click.echo(f"wrote {output} ({task}, {method}, {result.width}x{result.height}) "
               f"in {time.perf_counter() - started:.1f} s")

