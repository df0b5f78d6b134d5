"""`pixeldrift grid`: X/Y/Z plots of any generation options, one labelled sheet per Z value."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from pixeldrift.cli.control import control_options, controls_from
from pixeldrift.cli.generation_options import generation_options, load_chosen_model, reported, request_from, slug
from pixeldrift.pipeline.grid import parse_axis, plan, run_grid


@click.command()
@click.argument("prompt")
@click.option("--x", "x_axis", metavar="NAME=V1,V2,..", help="Columns, e.g. steps=5,10,20,50.")
@click.option("--y", "y_axis", metavar="NAME=V1,V2,..", help="Rows, e.g. sampler=euler,dpmpp_2m,ddim.")
@click.option("--z", "z_axis", metavar="NAME=V1,V2,..", help="One sheet per value, e.g. cfg=1,4,7.")
@generation_options
@control_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True)
def grid(prompt, x_axis, y_axis, z_axis, out, **options):
    """Compare settings side by side: an image per cell, axis names and values on the margins.

    Any generation option can be an axis (steps, sampler, schedule, cfg, seed,
    negative, guidance_rescale, variation_strength, width, height, ...), and
    prompt_sr=FIND,REPLACE1,REPLACE2 swaps words in the prompt. Every cell's full
    settings are stored in the sheet's metadata (see `pixeldrift info`).

    \b
    Examples:
      pixeldrift grid "three red circles" --x steps=5,10,20,50 --y sampler=euler,dpmpp_2m,ddim --z cfg=1,4,7
      pixeldrift grid "a red star" --x prompt_sr=red,green,blue --y seed=1,2,3
      pixeldrift grid "three red circles" --control models/cn-layout --control-image layout.png \
          --x control_strength=0,0.5,1,2 --y seed=0,1
    """
    axes = [reported(lambda text=text: parse_axis(text)) if text else None for text in (x_axis, y_axis, z_axis)]
    if not any(axes):
        raise click.UsageError("give at least one axis: --x, --y or --z")
    controls = reported(lambda: controls_from(options, options["device"]))
    base = request_from(prompt, options, controls=controls)
    model = reported(lambda: load_chosen_model(options))
    reported(lambda: plan(base, *axes, model))  # every cell checked before anything is made or written
    with tqdm(desc="cells", leave=False) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(1)
        sheets = reported(lambda: run_grid(model, base, *axes, callback=progress))
    out.mkdir(parents=True, exist_ok=True)
    for index, sheet in enumerate(sheets):
        path = out / f"xyz-{index}-{slug(prompt)}.png"
        sheet.save(path, watermark=not options["no_watermark"])
        click.echo(f"wrote {path}")
