"""`pixeldrift edit`: recolour objects of a picture by re-planning its layout (pipeline/layout_edit.py)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click
from PIL import Image

from pixeldrift.cli.generate import _check_output
from pixeldrift.cli.generation_options import check_prompt_lengths, open_image, reported
from pixeldrift.pipeline.contact_sheet import save_png
from pixeldrift.pipeline.plan import DEFAULT_LAYOUT_CONTROLNET, PLAN_STRENGTH
from pixeldrift.provenance.label import save_labelled_png


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prompt", required=True, help="What IMAGE shows, as a world scene with its colours named.")
@click.option("--to-prompt", required=True, help="The same scene with some objects' colours changed.")
@click.option("--control", "control_path", type=click.Path(file_okay=False, path_type=Path),
              help="The layout ControlNet that draws the edited layout [models/cn-layout]; it must be the model's.")
@click.option("--control-strength", type=click.FloatRange(0, 5), default=PLAN_STRENGTH, show_default=True)
@click.option("--strength", type=click.FloatRange(0.01, 1), default=1.0, show_default=True,
              help="How much of the changed objects' boxes is redrawn: 1 from noise.")
@click.option("--steps", type=click.IntRange(1, 1000), help="Sampler steps [the model's default].")
@click.option("--guidance", type=click.FloatRange(0, 50), help="Guidance [the model's default].")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path),
              help="A pixeldrift model folder [the embedded default].")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("-o", "--out", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .png to write (labelled as AI-generated); NAME.plan.png, the edited layout's map, beside it.")
def edit(image, prompt, to_prompt, control_path, control_strength, strength, steps, guidance, seed, model_path,
         device, no_watermark, output):
    """Recolour objects of IMAGE as --to-prompt says, keeping everything else exactly.

    The layout edit of LMD (Lian et al. 2023): the picture's objects are read back from its pixels (the world's
    reader, so IMAGE must be a world-like scene: objects on a plain background, as the default model draws them),
    the layout is recoloured as --to-prompt says, and only the changed objects' boxes are repainted, the layout
    ControlNet drawing them. --to-prompt may change colours only (same shapes, sizes, counts, relation).

    \b
    Example:
      pixeldrift edit scene.png --prompt "a cyan cross to the left of a pink square" \\
          --to-prompt "a black cross to the left of a pink square" -o edit.png
    """
    _check_output(output, None, 1)
    check_prompt_lengths(("--prompt", prompt), ("--to-prompt", to_prompt))
    from pixeldrift.pipeline.layout_edit import layout_edit_request, plan_layout_edit

    picture = open_image(image).convert("RGB")
    planned = reported(lambda: plan_layout_edit(picture, prompt, to_prompt))
    started = time.perf_counter()
    from pixeldrift.pipeline.controlnet_folder import load_controlnet
    from pixeldrift.pretrained import open_model

    model = reported(lambda: open_model(model_path, device=device))
    controlnet = reported(lambda: load_controlnet(control_path or DEFAULT_LAYOUT_CONTROLNET, device=device))
    request = reported(lambda: layout_edit_request(planned, picture, controlnet, to_prompt, seed, strength,
                                                   control_strength, steps=steps, guidance=guidance, excite=0.0))
    result = reported(lambda: model.generate(request))[0]
    extra = {**result.record.extra, "Layout edit": "; ".join(planned.changes), "Edited from": prompt}
    save_labelled_png(result.image, output, replace(result.record, extra=extra), watermark=not no_watermark)
    save_png(Image.fromarray(planned.plan.control_map()), output.with_suffix(".plan.png"))
    click.echo(f"wrote {output} and {output.with_suffix('.plan.png')} ({'; '.join(planned.changes)}) in "
               f"{time.perf_counter() - started:.1f} s")
