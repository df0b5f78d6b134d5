"""`pixeldrift subject-scene`: a personalised subject in a planned scene (pipeline/subject_scene.py)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from PIL import Image

from pixeldrift.cli.generate import _check_output
from pixeldrift.cli.generation_options import check_prompt_lengths, parse_lora, reported
from pixeldrift.pipeline.contact_sheet import save_png
from pixeldrift.pipeline.plan import DEFAULT_LAYOUT_CONTROLNET, PLAN_STRENGTH

FOLDER = click.Path(file_okay=False, path_type=Path)


@click.command("subject-scene")
@click.argument("prompt")
@click.option("--identifier", default="sks", show_default=True,
              help="The subject's rare word, as trained ('a red sks shape').")
@click.option("--subject-model", type=FOLDER, help="A DreamBooth model folder that draws the subject.")
@click.option("--subject-lora", metavar="FILE[:SCALE]", help="A LoRA file that teaches the base the subject.")
@click.option("--model", "model_path", type=FOLDER, help="The base model that draws the scene [the embedded default].")
@click.option("--control", "control_path", type=FOLDER,
              help="The base's layout ControlNet [models/cn-layout].")
@click.option("--control-strength", type=click.FloatRange(0, 5), default=PLAN_STRENGTH, show_default=True)
@click.option("--steps", type=click.IntRange(1, 1000), help="Sampler steps [the models' defaults].")
@click.option("--guidance", type=click.FloatRange(0, 50), help="Guidance [the models' defaults].")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("-o", "--out", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .png to write (labelled as AI-generated); NAME.plan.png beside it, the map the base drew "
                   "the scene from (the subject's box left empty).")
def subject_scene(prompt, identifier, subject_model, subject_lora, model_path, control_path, control_strength, steps,
                  guidance, seed, device, no_watermark, output):
    """Draw a personalised subject where a world prompt puts it: plan, draw the rest, compose the subject.

    The prompt names the subject once, as 'a [colour] IDENTIFIER shape', among world objects. The scene is
    planned as `generate --plan` plans it; the base model draws the rest with its layout ControlNet; the
    personalised model (--subject-model, or the base with --subject-lora) draws the subject alone, which is cut
    out and scaled into its planned box (LMD's per-box generation, Lian et al. 2023).

    \b
    Examples:
      pixeldrift subject-scene "a red sks shape to the left of a blue square" --subject-model runs/db/model -o a.png
      pixeldrift subject-scene "a green sks shape above two yellow stars" --subject-lora crescent.safetensors:0.8 \\
          -o b.png
    """
    _check_output(output, None, 1)
    check_prompt_lengths(("PROMPT", prompt))
    if (subject_model is None) == (subject_lora is None):
        raise click.UsageError("give the subject as --subject-model FOLDER (DreamBooth) or --subject-lora FILE, "
                               "one of them")
    lora = parse_lora(subject_lora) if subject_lora else None
    from pixeldrift.pipeline.controlnet_folder import load_controlnet
    from pixeldrift.pipeline.subject_scene import draw_subject_scene, plan_subject_scene
    from pixeldrift.pretrained import open_model

    reported(lambda: plan_subject_scene(prompt, identifier, seed, 64))  # the prompt is checked before loading
    started = time.perf_counter()
    base = reported(lambda: open_model(model_path, device=device))
    controlnet = reported(lambda: load_controlnet(control_path or DEFAULT_LAYOUT_CONTROLNET, device=device))
    personalised = reported(lambda: open_model(subject_model or model_path, device=device))
    if lora is not None:
        reported(lambda: personalised.load_lora(*lora))
    result, planned = reported(lambda: draw_subject_scene(base, controlnet, personalised, prompt, identifier, seed,
                                                          control_strength, steps=steps, guidance=guidance,
                                                          excite=0.0))
    result.record.extra["Subject from"] = str(subject_model or lora[0])
    result.save(output, watermark=not no_watermark)
    save_png(Image.fromarray(planned.without_subject().control_map()), output.with_suffix(".plan.png"))
    click.echo(f"wrote {output} and {output.with_suffix('.plan.png')} in {time.perf_counter() - started:.1f} s")
