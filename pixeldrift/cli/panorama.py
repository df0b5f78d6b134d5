"""`pixeldrift panorama`: an image many windows wide, by joint denoising of overlapping windows."""

from __future__ import annotations

import time
from pathlib import Path

import click
from tqdm import tqdm

from pixeldrift.applications.panorama import (MAX_PANORAMA_SIDE, MAX_SYNC_STRENGTH, METHODS, PanoramaSettings,
                                              generate_panorama)
from pixeldrift.cli.generate import _check_output
from pixeldrift.cli.generation_options import check_prompt_lengths, reported, slug
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pretrained import open_model
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES

SIDE = click.IntRange(1, MAX_PANORAMA_SIDE)


@click.command()
@click.argument("prompt")
@click.option("--width", type=SIDE, default=512, show_default=True,
              help="Pixels: the window (the model's own size) plus a multiple of the stride.")
@click.option("--height", type=SIDE, help="Pixels, likewise (the model's own height by default: one row of windows).")
@click.option("--method", type=click.Choice(METHODS), default="multidiffusion", show_default=True,
              help="independent: tiles sampled alone, side by side; multidiffusion: overlapping windows averaged "
                   "at every step (Bar-Tal et al. 2023); sync: that plus SyncDiffusion's pull of every window "
                   "towards the first one's colours (Lee et al. 2023).")
@click.option("--stride", type=click.IntRange(1, MAX_PANORAMA_SIDE),
              help="Pixels between windows (about half a window by default); a multiple of the model's size step.")
@click.option("--sync-strength", type=click.FloatRange(0, MAX_SYNC_STRENGTH), default=PanoramaSettings.sync_strength,
              show_default=True, help="With --method sync: how hard windows are pulled together.")
@click.option("--negative", "negative_prompt", default="", help="Negative prompt: what to steer away from.")
@click.option("--sampler", type=click.Choice(list(SAMPLERS)), help="Sampler (the model's default otherwise).")
@click.option("--schedule", type=click.Choice(list(SIGMA_SCHEDULES)), help="Sigma schedule.")
@click.option("--steps", type=click.IntRange(1, 1000), help="Sampling steps (the model's default otherwise).")
@click.option("--guidance", "--cfg", type=click.FloatRange(0, 50), help="Classifier-free guidance scale.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="A model folder or checkpoint; the embedded default when omitted.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, show_default="outputs",
              help="Folder for the image (named by method, seed and prompt).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write exactly this .png file.")
def panorama(prompt, width, height, method, stride, sync_strength, negative_prompt, sampler, schedule, steps,
             guidance, seed, model_path, device, no_watermark, out, output):
    """Generate a panorama of PROMPT many windows wide; writes a labelled PNG.

    Every window is the model's own size (64x64 for the default model); the windows are
    denoised together at every step of any sampler. The PNG's parameters name the method,
    window and stride.

    \b
    Examples:
      pixeldrift panorama "two red circles" --width 512
      pixeldrift panorama "three blue squares on a cream background" --method sync -o row.png
      pixeldrift panorama "two green triangles" --method independent --sampler euler_ancestral
    """
    _check_output(output, out, 1)
    check_prompt_lengths(("PROMPT", prompt), ("--negative", negative_prompt))
    request = GenerationRequest(prompt, negative_prompt=negative_prompt, width=width, height=height, seed=seed,
                                sampler=sampler, schedule=schedule, steps=steps, guidance=guidance)
    settings = PanoramaSettings(method, stride=stride, sync_strength=sync_strength)
    started = time.perf_counter()
    model = reported(lambda: open_model(model_path, device=device))
    with tqdm(total=steps or model.sampling_defaults.steps, desc="sampling", leave=False) as bar:
        result, = reported(lambda: generate_panorama(model, request, settings, lambda i, x, d: bar.update(1)))
    if output is None:
        (out or Path("outputs")).mkdir(parents=True, exist_ok=True)
        output = (out or Path("outputs")) / f"panorama-{method}-{seed:06d}-{slug(prompt)}.png"
    result.save(output, watermark=not no_watermark)
    click.echo(f"wrote {output} ({result.image.width}x{result.image.height}, {method}) "
               f"in {time.perf_counter() - started:.1f} s")
