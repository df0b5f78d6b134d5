"""The generation options shared by `generate`, `grid`, `outpaint` and `timeline`, and the helpers they share."""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import click
from PIL import Image

from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pretrained import open_model
from pixeldrift.provenance.safe_image import ImageReadError, load_rgb
from pixeldrift.safety.moderation import PromptRefused, PromptTooLong, check_prompt_length
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    """'64' -> (64, 64), '96x64' -> (96, 64), None -> the model's own."""
    if text is None:
        return None, None
    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise click.BadParameter(f"{text!r} is not a size; write 64 or 96x64")
    return int(parts[0]), int(parts[-1])


_OPTIONS = [
    click.option("--negative", "negative_prompt", default="", help="Negative prompt: what to steer away from."),
    click.option("--model", "model_path", type=click.Path(path_type=Path),
                 help="A pixeldrift model folder, a diffusers folder or a single .safetensors checkpoint; "
                      "the embedded default when omitted."),
    click.option("--family", type=click.Choice(["sd1", "sd2", "sd2-v", "sdxl"]),
                 help="Stable Diffusion family, when the files do not say it right."),
    click.option("--lora", "loras", multiple=True, metavar="FILE[:SCALE]",
                 help="Apply a LoRA file (repeatable): one from `pixeldrift train lora` to a pixeldrift model, or "
                      "one for Stable Diffusion to such a model; scale 1 by default."),
    click.option("--embedding", "embeddings", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                 help="Add a textual-inversion embedding's word (`pixeldrift train textual-inversion`; "
                      "repeatable): for Stable Diffusion, A1111's .pt/.safetensors (SDXL's clip_l/clip_g), the "
                      "word being the file's name, or A1111's .png embedding card, the word being the name it holds."),
    click.option("--config", "config_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="For a single-file checkpoint: a diffusers folder of the same architecture."),
    click.option("--sampler", type=click.Choice(list(SAMPLERS)), help="Sampler (model default: dpmpp_2m)."),
    click.option("--schedule", type=click.Choice(list(SIGMA_SCHEDULES)), help="Sigma schedule (default: karras)."),
    click.option("--steps", type=click.IntRange(1, 1000), help="Sampling steps (default: 20)."),
    click.option("--guidance", "--cfg", type=click.FloatRange(0, 50), help="Classifier-free guidance scale."),
    click.option("--guidance-rescale", type=click.FloatRange(0, 1), default=0.0, show_default=True),
    click.option("--excite", type=click.FloatRange(0, 100),
                 help="Attend-and-Excite scale: pushes every shape word to own part of the image "
                      "(model default; 0 turns it off)."),
    click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                 help="Image i of a batch uses seed + i."),
    click.option("--size", callback=lambda _c, _p, v: parse_size(v), metavar="WxH",
                 help="Image size: 64 or 96x64 (multiples of the model's step, 16 for ours, 8 for SD; "
                      "the model's own by default)."),
    click.option("--variation-seed", type=click.IntRange(0, 2**63 - 1),
                 help="Blend the seed's noise with this seed's noise, for small variations."),
    click.option("--variation-strength", type=click.FloatRange(0, 1), default=0.0, show_default=True,
                 help="How much of the variation seed's noise (0 = none)."),
    click.option("--device", default="cpu", show_default=True, help="cpu or cuda; noise is always drawn on the CPU."),
    click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata)."),
]

REQUEST_FIELDS = ("negative_prompt", "sampler", "schedule", "steps", "guidance", "guidance_rescale", "excite",
                  "seed", "variation_seed", "variation_strength")


def generation_options(command):
    """Add the shared options; the command receives them as keyword arguments."""
    return functools.reduce(lambda f, option: option(f), reversed(_OPTIONS), command)


def check_prompt_lengths(*named: tuple[str, str]) -> None:
    """Refuse an over-long prompt before any model is loaded: (option name, text) pairs, the first too long
    a click error naming its option."""
    for name, text in named:
        try:
            check_prompt_length(text)
        except PromptTooLong as error:
            raise click.BadParameter(str(error), param_hint=name) from None


def request_from(prompt: str, options: dict, **more) -> GenerationRequest:
    """The request the options describe; over-long prompts are refused here, before a model is loaded."""
    check_prompt_lengths(("PROMPT", prompt), ("--negative", options["negative_prompt"]))
    width, height = options["size"]
    fields = {name: options[name] for name in REQUEST_FIELDS}
    return GenerationRequest(prompt=prompt, width=width, height=height, **fields, **more)


def open_image(path: Path | None, mode: str = "RGB") -> Image.Image | None:
    """An image file as PIL, through the decompression-bomb guard; a click error naming the file."""
    if path is None:
        return None
    try:
        image = Image.fromarray(load_rgb(path))
    except ImageReadError as error:
        raise click.ClickException(str(error)) from None
    return image.convert(mode)


def reported(work):
    """Run generation work, turning refusals and bad settings into clear CLI errors (exit 1)."""
    try:
        return work()
    except PromptRefused as refusal:
        raise click.ClickException(f"prompt refused ({refusal.category}): {refusal}") from None
    except (ValueError, RuntimeError, ImportError) as error:
        raise click.ClickException(str(error)) from None


def slug(text: str, limit: int = 40) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:limit] or "image"


def load_chosen_model(options: dict):
    """The model named by --model (any kind pixeldrift opens), or the embedded default."""
    loras = [parse_lora(text) for text in options["loras"]]
    model = open_model(options["model_path"], family=options["family"], device=options["device"],
                       config=options["config_dir"])
    for path, scale in loras:  # a pixeldrift model's own LoRA files, or Stable Diffusion's
        model.load_lora(path, scale)
    for path in options.get("embeddings", ()):
        if not hasattr(model, "load_embedding"):
            raise ValueError(f"--embedding {path}: {model.name} does not take embeddings")
        model.load_embedding(path)
    return model


_SCALE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_lora(text: str) -> tuple[str, float]:
    """'style.safetensors:0.7' -> ('style.safetensors', 0.7); '1e-3' and '-.5' are scales too; none means 1.

    The scale is what follows the last colon when that is a finite decimal number, so
    'dir/a:b.safetensors' stays one file name.
    """
    path, _, scale = text.rpartition(":")
    if not (path and _SCALE.fullmatch(scale)):
        return text, 1.0
    if not math.isfinite(float(scale)):
        raise click.BadParameter(f"the scale {scale} of {text!r} is not a finite number", param_hint="--lora")
    return path, float(scale)
