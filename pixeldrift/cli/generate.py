"""`pixeldrift generate`: text to labelled PNGs with the embedded default model (or any model folder)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from tqdm import tqdm

from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.contact_sheet import contact_sheet
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.safety.moderation import PromptRefused
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES


@click.command()
@click.argument("prompt")
@click.option("--negative", "negative_prompt", default="", help="Negative prompt: what to steer away from.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path),
              help="A model folder; the embedded default when omitted.")
@click.option("--sampler", type=click.Choice(list(SAMPLERS)), help="Sampler (model default: dpmpp_2m).")
@click.option("--schedule", type=click.Choice(list(SIGMA_SCHEDULES)), help="Sigma schedule (default: karras).")
@click.option("--steps", type=click.IntRange(1, 1000), help="Sampling steps (default: 20).")
@click.option("--guidance", "--cfg", type=click.FloatRange(0, 50), help="Classifier-free guidance scale.")
@click.option("--guidance-rescale", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Image i of the batch uses seed + i.")
@click.option("-n", "--batch-size", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--size", callback=lambda _c, _p, v: parse_size(v), metavar="WxH",
              help="Image size: 64 or 96x64 (multiples of 16; the model's own by default).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda; noise is always drawn on the CPU.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True)
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in the metadata).")
def generate(prompt, negative_prompt, model_dir, sampler, schedule, steps, guidance, guidance_rescale, seed,
             batch_size, size, device, out, no_watermark):
    """Generate images from a text prompt; writes labelled PNGs (and a grid for several).

    Every PNG carries its settings in the AUTOMATIC1111 "parameters" format, an
    AI-generated statement and, unless --no-watermark, an invisible watermark.
    Same prompt, settings, seed and device: the same image, byte for byte.

    \b
    Examples:
      pixeldrift generate "three red circles above a blue square"
      pixeldrift generate "an analog clock showing 10:15" -n 4 --seed 7
      pixeldrift generate "a sign that says HELLO" --sampler euler --steps 30 --cfg 5
    """
    request = GenerationRequest(prompt=prompt, negative_prompt=negative_prompt, steps=steps, sampler=sampler,
                                schedule=schedule, guidance=guidance, guidance_rescale=guidance_rescale, seed=seed,
                                batch_size=batch_size, width=size[0], height=size[1])
    started = time.perf_counter()
    try:
        model = load_model(model_dir, device=device)
        total = request.validated(model.sampling_defaults, model.limits).steps
        bar = tqdm(total=total, desc="sampling", leave=False)
        results = model.generate(request, callback=lambda i, x, d: bar.update(1),
                                 model_name=model.config.name)
        bar.close()
    except PromptRefused as refusal:
        raise click.ClickException(f"prompt refused ({refusal.category}): {refusal}") from None
    except (ValueError, RuntimeError) as error:
        raise click.ClickException(str(error)) from None
    _write(results, out, no_watermark)
    click.echo(f"{len(results)} image(s) in {time.perf_counter() - started:.2f} s")


def _write(results, out: Path, no_watermark: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for result in results:
        path = out / f"{result.record.seed:06d}-{_slug(result.record.prompt)}.png"
        result.save(path, watermark=not no_watermark)
        click.echo(f"wrote {path}")
    if len(results) > 1:
        first = results[0].record
        record = GenerationRecord(**{**first.to_dict(), "extra": {**first.extra, "Grid": f"{len(results)} images"}})
        path = out / f"grid-{first.seed:06d}-{_slug(first.prompt)}.png"
        save_labelled_png(contact_sheet([r.image for r in results]), path, record, watermark=not no_watermark)
        click.echo(f"wrote {path}")


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    """'64' -> (64, 64), '96x64' -> (96, 64), None -> the model's own."""
    if text is None:
        return None, None
    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise click.BadParameter(f"{text!r} is not a size; write 64 or 96x64")
    width, height = (int(parts[0]), int(parts[-1]))
    return width, height


def _slug(text: str, limit: int = 40) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:limit] or "image"
