"""`pixeldrift video`: a short clip from a motion prompt (and optionally its first frame), as a labelled MP4 and GIF."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click
from PIL import Image

from pixeldrift.cli.generation_options import open_image, reported
from pixeldrift.pipeline.plan import DEFAULT_LAYOUT_CONTROLNET, PLAN_STRENGTH
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.pipeline.video_files import VideoFileError, write_gif, write_mp4
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.safety.moderation import PromptTooLong, check_prompt_length
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.world.motion import MAX_FRAMES, MIN_FRAMES, parse_clip
from pixeldrift.world.parse import PromptError

DEFAULT_VIDEO_MODEL = Path(__file__).resolve().parents[2] / "models" / "video"


@click.command()
@click.argument("prompt")
@click.option("--image", "first_frame", type=click.Path(dir_okay=False, path_type=Path),
              help="The first frame: the clip animates this picture (image-to-video). It must be the model's size "
                   "unless --resize.")
@click.option("--resize", is_flag=True, help="Resize --image to the model's size (otherwise another size is refused).")
@click.option("--frames", type=click.IntRange(MIN_FRAMES, MAX_FRAMES), help="Frames [the model's default, 8].")
@click.option("--fps", type=click.IntRange(1, 30), help="Frames per second of the files [the model's default, 8].")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--steps", type=click.IntRange(1, 1000), help="Sampler steps [the model's default].")
@click.option("--sampler", type=click.Choice(list(SAMPLERS)), help="Sampler [the model's default].")
@click.option("--guidance", type=click.FloatRange(0, 50), help="Guidance on the text [the model's default].")
@click.option("--image-guidance", type=click.FloatRange(0, 20),
              help="Guidance on the first frame, with --image [the model's default, 1.5].")
@click.option("--negative", default="", help="Negative prompt.")
@click.option("--any-prompt", is_flag=True,
              help="Skip the check that the prompt is a motion the world knows ('... moving left', 'a clock going "
                   "from 3:00 to 3:30', ...): the model was trained on those alone.")
@click.option("--plan", is_flag=True,
              help="Plan, then animate: read PROMPT as a world clip, decide what it leaves open (colours, sizes, "
                   "background) and where every object is in every frame, all from --seed, and draw each frame's "
                   "layout with the layout ControlNet (--plan-control) while the frames are denoised jointly; the "
                   "model is told the decided clip's full caption. Saves NAME.plan.png (the frames' layout maps, "
                   "left to right) beside the clip. Not with --image.")
@click.option("--plan-control", type=click.Path(file_okay=False, path_type=Path),
              help="The layout ControlNet folder for --plan [models/cn-layout]; it must have been trained on the "
                   "image model the video model's spatial layers are.")
@click.option("--plan-strength", type=click.FloatRange(0, 5), default=PLAN_STRENGTH, show_default=True,
              help="The ControlNet's strength for --plan.")
@click.option("--model", "model_path", type=click.Path(file_okay=False, path_type=Path),
              help="A video model folder (pixeldrift train video) [models/video].")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
@click.option("--no-gif", is_flag=True, help="Write the MP4 only.")
@click.option("-o", "--out", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .mp4 to write; the GIF goes beside it (same name, .gif). Both are labelled as AI-generated.")
def video(prompt, first_frame, resize, frames, fps, seed, steps, sampler, guidance, image_guidance, negative,
          any_prompt, plan, plan_control, plan_strength, model_path, device, no_watermark, no_gif, output):
    """Make a short clip of PROMPT, its frames denoised jointly by the video model.

    \b
    Examples:
      pixeldrift video "a red circle moving right" -o circle.mp4
      pixeldrift video "two blue squares falling" --frames 8 --seed 3 -o squares.mp4
      pixeldrift video "a star moving left quickly" --image star.png -o star.mp4   # animate a still
      pixeldrift video "two blue squares falling" --plan -o planned.mp4   # plan the motion, then draw it
    """
    _check_output(output)
    _check_prompt(prompt, negative, any_prompt)
    _check_plan(plan, plan_control, plan_strength, first_frame, any_prompt)
    if resize and first_frame is None:
        raise click.BadParameter("--resize applies to --image, which is not given", param_hint="--resize")
    if image_guidance is not None and first_frame is None:
        raise click.BadParameter("--image-guidance applies to --image, which is not given",
                                 param_hint="--image-guidance")
    picture = open_image(first_frame)
    started = time.perf_counter()
    from pixeldrift.pipeline.video_folder import load_video_model

    model = reported(lambda: load_video_model(model_path or DEFAULT_VIDEO_MODEL, device=device))
    picture = _first_frame(picture, model.size, resize)
    defaults = model.defaults
    settings = reported(lambda: _settings(defaults, frames, fps, image_guidance, model.temporal.max_frames))
    request = GenerationRequest(prompt=prompt, negative_prompt=negative, steps=steps, sampler=sampler,
                                guidance=guidance, seed=seed)
    r = reported(lambda: request.validated(model.image_model.sampling_defaults, model.image_model.limits))
    told, controls, extra, decided = prompt, None, {}, None
    if plan:
        decided, controls = reported(lambda: _planned(model, prompt, seed, settings.frames, plan_control,
                                                      plan_strength))
        told = decided.caption
        extra = {"Plan": told, "Plan control": f"{controls[0].model.name}, strength {plan_strength:g}"}
    clip = reported(lambda: model.generate([told], [seed], r, settings, None if picture is None else [picture],
                                           controls=controls))[0]
    seconds = time.perf_counter() - started
    extra = {"Video model": model.name, "Image guidance": f"{settings.image_guidance:g}" if picture else "none",
             **extra}
    if first_frame is not None:
        extra["First frame"] = first_frame.name
    record = GenerationRecord(prompt=prompt, negative_prompt=negative, steps=r.steps, sampler=r.sampler,
                              cfg_scale=r.guidance, seed=seed, width=model.size, height=model.size,
                              model=model.name, extra=extra)
    written = [output] + ([] if no_gif else [output.with_suffix(".gif")])
    try:
        write_mp4(clip, output, record, settings.fps, watermark=not no_watermark)
        if not no_gif:
            write_gif(clip, written[1], record, settings.fps, watermark=not no_watermark)
        if decided is not None:
            from pixeldrift.pipeline.video_plan import save_clip_plan

            written.append(save_clip_plan(decided, output))
    except (VideoFileError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {', '.join(map(str, written))} ({settings.frames} frames at {settings.fps} fps, "
               f"{model.size}x{model.size}) in {seconds:.1f} s")


def _check_output(output: Path) -> None:
    if output.suffix.lower() != ".mp4":
        raise click.BadParameter(f"{str(output)!r} must end in .mp4 (the GIF is written beside it)", param_hint="-o")
    if not output.parent.is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist", param_hint="-o")


def _check_prompt(prompt: str, negative: str, any_prompt: bool) -> None:
    for text, hint in ((prompt, "PROMPT"), (negative, "--negative")):
        try:
            check_prompt_length(text)
        except PromptTooLong as error:
            raise click.BadParameter(str(error), param_hint=hint) from None
    if not any_prompt:
        try:
            parse_clip(prompt)
        except PromptError as error:
            raise click.BadParameter(f"{error} (or pass --any-prompt)", param_hint="PROMPT") from None


def _check_plan(plan, plan_control, plan_strength, first_frame, any_prompt) -> None:
    if not plan:
        for given, name in ((plan_control is not None, "--plan-control"),
                            (plan_strength != PLAN_STRENGTH, "--plan-strength")):
            if given:
                raise click.BadParameter(f"{name} applies to --plan, which is not given", param_hint=name)
        return
    if first_frame is not None:
        raise click.BadParameter("--plan lays out every frame, the first too; it does not take --image",
                                 param_hint="--plan")
    if any_prompt:
        raise click.BadParameter("--plan reads the prompt as a world clip; it does not take --any-prompt",
                                 param_hint="--plan")


def _planned(model, prompt: str, seed: int, frames: int, folder: Path | None, strength: float):
    """The plan (the decided clip, its caption and maps) and the layout ControlNet steering every frame of it."""
    from pixeldrift.pipeline.controlnet_folder import load_controlnet
    from pixeldrift.pipeline.video_plan import ClipControl, plan_clip

    decided = plan_clip(prompt, seed, frames, model.size)
    # the ControlNet's base is checked against the video model's spatial layers by generate
    return decided, [ClipControl(load_controlnet(folder or DEFAULT_LAYOUT_CONTROLNET), decided.maps[None], strength)]


def _first_frame(picture: Image.Image | None, size: int, resize: bool) -> Image.Image | None:
    if picture is None or picture.size == (size, size):
        return picture
    if not resize:
        raise click.BadParameter(f"the first frame is {picture.width}x{picture.height}; the model makes {size}x{size} "
                                 "clips (pass --resize to resize it)", param_hint="--image")
    return picture.resize((size, size), Image.LANCZOS)


def _settings(defaults, frames, fps, image_guidance, max_frames):
    settings = replace(defaults, **{k: v for k, v in (("frames", frames), ("fps", fps),
                                                       ("image_guidance", image_guidance)) if v is not None})
    settings.check(max_frames)
    return settings
