"""`pixeldrift outpaint`: extend an image's canvas and fill the new border."""

from __future__ import annotations

from pathlib import Path

import click

from pixeldrift.cli.generation_options import generation_options, load_chosen_model, open_image, reported, \
    request_from, slug
from pixeldrift.pipeline.outpaint import extend_canvas, parse_pads


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("prompt")
@click.option("--pad", "pads", multiple=True, required=True, metavar="SIDE=PIXELS",
              help="Grow the canvas: left=32, right=16, top=.., bottom=..; repeat for several sides.")
@click.option("--overlap", type=click.IntRange(0, 64), default=4, show_default=True,
              help="Also repaint this many pixels of the old image along the seam.")
@click.option("--mask-blur", type=click.IntRange(0, 64), default=4, show_default=True)
@generation_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True)
def outpaint(image, prompt, pads, overlap, mask_blur, out, **options):
    """Extend IMAGE by the given pads and let the model fill the new border to match PROMPT.

    The new canvas must still be a multiple of the model's size step (16 for the default model).

    \b
    Examples:
      pixeldrift outpaint scene.png "two red circles and a blue square" --pad left=32
      pixeldrift outpaint scene.png "a green star" --pad top=16 --pad bottom=16 --seed 3
    """
    sides = reported(lambda: parse_pads(pads))
    canvas, mask = extend_canvas(open_image(image), sides, overlap)
    options["size"] = canvas.size
    request = request_from(prompt, options, init_image=canvas, mask=mask, strength=1.0, mask_blur=mask_blur)
    model = reported(lambda: load_chosen_model(options))
    result = reported(lambda: model.generate(request))[0]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"outpaint-{result.record.seed:06d}-{slug(prompt)}.png"
    result.save(path, watermark=not options["no_watermark"])
    click.echo(f"wrote {path} ({canvas.width}x{canvas.height})")
