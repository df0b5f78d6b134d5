"""`pixeldrift generate`: text (and optionally an image and a mask) to labelled PNGs."""

from __future__ import annotations

import time
from pathlib import Path

import click
from tqdm import tqdm

from pixeldrift.cli.augment_options import augment_options, augmented, label_augmented
from pixeldrift.cli.control import control_options, controls_from
from pixeldrift.cli.generation_options import generation_options, load_chosen_model, open_image, reported, \
    request_from, slug
from pixeldrift.cli.hires_options import hires_from, hires_options, validated
from pixeldrift.cli.plan import label_with_plans, plan_options, plan_settings, planned, save_plans
from pixeldrift.pipeline.contact_sheet import contact_sheet
from pixeldrift.pipeline.hires_fix import steps_run
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("prompt")
@generation_options
@click.option("-n", "--batch-size", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--init-image", type=FILE, help="Image-to-image: start from this image (SDEdit).")
@click.option("--strength", type=click.FloatRange(0, 1), default=0.75, show_default=True,
              help="With --init-image: 0 keeps the image, 1 ignores it.")
@click.option("--mask", type=FILE, help="Inpainting: white = repaint, black = keep; the init image's size.")
@click.option("--mask-blur", type=click.IntRange(0, 64), default=4, show_default=True,
              help="Feather the mask edge by this many pixels.")
@click.option("--resample", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Inpainting: redo each step this many times (RePaint) for better seams.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, show_default="outputs",
              help="Folder for the images (named by seed and prompt) and, for several, their grid.")
@click.option("-o", "--output", type=FILE, help="Write the one image to exactly this .png file (needs -n 1).")
@hires_options
@control_options
@plan_options
@augment_options
def generate(prompt, batch_size, init_image, strength, mask, mask_blur, resample, out, output, **options):
    """Generate images from a text prompt; writes labelled PNGs (and a grid for several).

    Every PNG carries its settings in the AUTOMATIC1111 "parameters" format, an
    AI-generated statement and, unless --no-watermark, an invisible watermark.
    Same prompt, settings, seed and device: the same image, byte for byte.
    A mask must have the init image's size (it is refused, not resized).

    \b
    Examples:
      pixeldrift generate "three red circles above a blue square"
      pixeldrift generate "an analog clock showing 10:15" -n 4 --seed 7
      pixeldrift generate "a sign that says HELLO" --sampler euler --steps 30 --cfg 5
      pixeldrift generate "a (green:1.3) star" --init-image in.png --strength 0.6
      pixeldrift generate "a blue square" --init-image in.png --mask mask.png --strength 1
      pixeldrift generate "a green star" -o star.png
      pixeldrift generate "two red circles" --hires-scale 2 --hires-strength 0.5 --hires-upscaler lanczos
      pixeldrift generate "three red circles" --control models/cn-layout --control-image layout.png
      pixeldrift generate "three red circles above a blue square" --plan -n 4
      pixeldrift generate "three little stars directly above a square" --augment
      pixeldrift generate "a tidy desk" --layout boxes.json --control models/cn-layout
    """
    _check_output(output, out, batch_size)
    plan = reported(lambda: plan_settings(options))
    controls = () if plan else reported(lambda: controls_from(options, options["device"]))
    hires = hires_from(options, init_image=init_image, mask=mask, plan=plan, control=controls)
    request = request_from(prompt, options, batch_size=batch_size, init_image=open_image(init_image),
                           strength=strength, mask=open_image(mask, "L"), mask_blur=mask_blur, resample=resample,
                           controls=controls, hires=hires)
    request, rewrite = augmented(request, options)
    started = time.perf_counter()
    model = reported(lambda: load_chosen_model(options))
    request, plans = reported(lambda: planned(model, request, plan, options["device"])) if plan else (request, [])
    results = reported(lambda: _run(model, request))
    label_with_plans(results, plans)
    label_augmented(results, rewrite)
    if output is not None:
        results[0].save(output, watermark=not options["no_watermark"])
        click.echo(f"wrote {output}")
        paths = [output]
    else:
        paths = _write(results, out or Path("outputs"), options["no_watermark"])
    save_plans(paths, plans)
    click.echo(f"{len(results)} image(s) in {time.perf_counter() - started:.2f} s")


def _check_output(output: Path | None, out: Path | None, batch_size: int) -> None:
    """-o names one file: refuse what would write anything else, before any model is loaded."""
    if output is None:
        return
    if batch_size > 1:
        raise click.BadParameter(f"-o writes one file but -n asks for {batch_size} images; "
                                 "use --out DIR for a batch", param_hint="-o")
    if out is not None:
        raise click.BadParameter("give either -o FILE or --out DIR, not both", param_hint="-o")
    if output.suffix.lower() != ".png":
        raise click.BadParameter(f"{str(output)!r} must end in .png (a labelled PNG is written)", param_hint="-o")
    if not output.parent.is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist", param_hint="-o")


def _run(model, request):
    total = steps_run(validated(model, request))
    with tqdm(total=total, desc="sampling", leave=False) as bar:
        return model.generate(request, callback=lambda i, x, d: bar.update(1))


def _write(results, out: Path, no_watermark: bool) -> list[Path]:
    """Each image (and a grid for several); returns the images' paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{result.record.seed:06d}-{slug(result.record.prompt)}.png" for result in results]
    for result, path in zip(results, paths):
        result.save(path, watermark=not no_watermark)
        click.echo(f"wrote {path}")
    if len(results) > 1:
        first = results[0].record
        record = GenerationRecord(**{**first.to_dict(), "extra": {**first.extra, "Grid": f"{len(results)} images"}})
        path = out / f"grid-{first.seed:06d}-{slug(first.prompt)}.png"
        save_labelled_png(contact_sheet([r.image for r in results]), path, record, watermark=not no_watermark)
        click.echo(f"wrote {path}")
    return paths
