"""`pixeldrift guide`: generation steered by a noise-aware classifier (classifier guidance)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from pixeldrift.cli.generate import _check_output, _write
from pixeldrift.cli.generation_options import generation_options, load_chosen_model, reported, request_from
from pixeldrift.sampling.classifier_guidance import MAX_SCALE


def _classes(_ctx, _param, values: tuple[str, ...]) -> dict[str, str]:
    wanted = {}
    for text in values:
        head, sep, name = text.partition("=")
        if not sep or not head or not name:
            raise click.BadParameter(f"{text!r} is not HEAD=CLASS, e.g. colour=red")
        wanted[head.strip()] = name.strip()
    return wanted


@click.command()
@click.argument("prompt")
@click.option("--classifier", "classifier_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A classifier folder (`pixeldrift train classifier`) trained on this model's latents.")
@click.option("--class", "wanted", multiple=True, metavar="HEAD=CLASS", callback=_classes,
              help="A class to guide towards, e.g. colour=red (repeatable); by default the classes PROMPT names.")
@click.option("--classifier-scale", type=click.FloatRange(0, MAX_SCALE), default=3.0, show_default=True,
              help="s in D + s sigma^2 grad log p(class | x, sigma); 0 is the model's own sampling.")
@click.option("--unconditional", is_flag=True,
              help="Sample the empty prompt (the unconditional model) so that only the classifier steers.")
@generation_options
@click.option("-n", "--batch-size", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, show_default="outputs",
              help="Folder for the images (named by seed and prompt) and, for several, their grid.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the one image to exactly this .png file (needs -n 1).")
def guide(prompt, classifier_dir, wanted, classifier_scale, unconditional, batch_size, out, output, **options):
    """Generate PROMPT steered by a classifier's gradient (Dhariwal & Nichol 2021); writes labelled PNGs
    whose parameters name the classifier, its classes and scale.

    \b
    Examples:
      pixeldrift guide "a red circle" --classifier models/classifier-lone --classifier-scale 3
      pixeldrift guide "a red circle" --classifier models/classifier-lone --unconditional --classifier-scale 10
      pixeldrift guide "a star" --classifier models/classifier-lone --class colour=green -n 4
    """
    from pixeldrift.applications.classifier_guidance import generate_guided, open_classifier, wanted_from_prompt

    _check_output(output, out, batch_size)
    request = request_from(prompt, options, batch_size=batch_size)
    started = time.perf_counter()
    model = reported(lambda: load_chosen_model(options))
    classifier = reported(lambda: open_classifier(classifier_dir, model))
    wanted = wanted or reported(lambda: wanted_from_prompt(classifier, prompt))
    results = reported(lambda: generate_guided(model, request, classifier, wanted, classifier_scale,
                                               classifier_dir.name, unconditional))
    if output is not None:
        results[0].save(output, watermark=not options["no_watermark"])
        click.echo(f"wrote {output}")
    else:
        _write(results, out or Path("outputs"), options["no_watermark"])
    click.echo(f"{len(results)} image(s) in {time.perf_counter() - started:.2f} s")
