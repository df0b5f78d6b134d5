"""`pixeldrift world`: render, read back and export the procedural challenge world."""

from __future__ import annotations

import io
import json
from pathlib import Path
import random

import click
from PIL import Image

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.provenance.safe_image import ImageReadError, load_rgb
from pixeldrift.world import (IMAGE_SIZES, STYLES, PromptError, SpecError, caption, parse_prompt, render,
                              sample_spec, spec_to_dict, verify)
from pixeldrift.world.export import ExportError, ExportSettings, export_dataset
from pixeldrift.world.sample import SPLITS
from pixeldrift.world.selfcheck import verifier_report


# World images are at most 128x128; far larger files are refused before decoding (a 13000x13000
# PNG of 493 KB once cost 2.5 GB here), smaller wrong sizes get the verifier's own message.
VERIFY_MAX_PIXELS = 1024 * 1024


def _parse(prompt: str):
    try:
        return parse_prompt(prompt)
    except PromptError as error:
        raise click.UsageError(str(error)) from None


def _save_png(image: Image.Image, path: Path) -> None:
    """Atomic PNG write: a temporary file beside the target, flushed, then renamed over it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes_atomically(path, buffer.getvalue())


@click.group()
def world() -> None:
    """The challenge world: scenes whose truth is known, and an exact verifier.

    \b
    Examples:
      pixeldrift world render "three red circles and a blue star" -o scene.png
      pixeldrift world verify scene.png "three red circles and a blue star"
      pixeldrift world sample --n 5
      pixeldrift world export data/world --n 10000
      pixeldrift world check --n 3000
    """


@world.command("render")
@click.argument("prompt")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="PNG file to write.")
@click.option("--size", type=click.Choice([str(s) for s in IMAGE_SIZES]), default="64", show_default=True,
              help="Image side in pixels.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Decides placement, background shade and anything the prompt leaves open.")
def render_command(prompt: str, out: Path, size: str, seed: int) -> None:
    """Draw a prompt from the world's grammar.

    \b
    Examples:
      pixeldrift world render "a red circle to the left of a blue square" -o rel.png
      pixeldrift world render "an analog clock showing 11:25" -o clock.png --size 128
      pixeldrift world render "five glasses: empty, quarter, half, three quarters, full" -o q.png
      pixeldrift world render "a sign that says HELLO" -o sign.png --seed 3
      pixeldrift world render 'a sign reading "THE CAT SAT ON MATS"' -o sentence.png --size 128
    """
    spec = _parse(prompt)
    try:
        image = Image.fromarray(render(spec, int(size), seed))
    except SpecError as error:
        raise click.UsageError(str(error)) from None
    if not out.parent.is_dir():
        raise click.UsageError(f"{out.parent}: no such folder")
    _save_png(image, out)
    click.echo(f"wrote {out} ({caption(spec, 'long')})")


@world.command("verify")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("prompt")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def verify_command(image: Path, prompt: str, as_json: bool) -> None:
    """Check an image against a prompt, attribute by attribute.

    Reads the scene back from the pixels (shapes, colours, sizes, positions,
    clock hands, fill levels, letters) and compares it with the prompt.

    \b
    Exit status: 0 when the image matches the prompt, 1 when it does not or
    cannot be read, 2 for a bad prompt or a missing file.

    \b
    Examples:
      pixeldrift world verify scene.png "three red circles"
      pixeldrift world verify clock.png "an analog clock showing 11:25" --json
    """
    spec = _parse(prompt)
    if not image.is_file():
        raise click.UsageError(f"{image}: no such file")
    try:
        result = verify(load_rgb(image, max_pixels=VERIFY_MAX_PIXELS), spec)
    except ImageReadError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        for check in result.checks:
            mark = "ok  " if check.ok else "FAIL"
            click.echo(f"{mark} {check.attribute}: expected {check.expected}, found {check.observed}")
        for problem in result.problems:
            click.echo(f"FAIL could not read: {problem}")
        click.echo("correct" if result.ok else "incorrect")
    raise SystemExit(0 if result.ok else 1)


@world.command("sample")
@click.option("--n", "count", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="How many random scenes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random stream.")
@click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True,
              help="train: never a held-out combination; heldout: only held-out ones.")
@click.option("--json", "as_json", is_flag=True, help="Print one spec per line as JSON.")
def sample_command(count: int, seed: int, split: str, as_json: bool) -> None:
    """Print random scenes in every caption style (or as JSON specs).

    \b
    Examples:
      pixeldrift world sample
      pixeldrift world sample --n 20 --split heldout --json
    """
    rng = random.Random(seed)
    for _ in range(count):
        spec = sample_spec(rng, split)
        if as_json:
            click.echo(json.dumps(spec_to_dict(spec)))
            continue
        for style in STYLES:
            click.echo(f"{style:>5}: {caption(spec, style)}")
        click.echo("")


@world.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--n", "count", type=click.IntRange(min=1), required=True, help="Number of images.")
@click.option("--size", type=click.Choice([str(s) for s in IMAGE_SIZES]), default="64", show_default=True,
              help="Image side in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the whole dataset.")
@click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True,
              help="train: never a held-out combination; heldout: only held-out ones.")
def export_command(directory: Path, count: int, size: str, seed: int, split: str) -> None:
    """Write an image folder with metadata.jsonl (file_name, text, spec).

    The layout Hugging Face datasets ("imagefolder") and the diffusers training
    scripts read. DIRECTORY must not exist; it appears complete or not at all.

    \b
    Examples:
      pixeldrift world export data/world --n 10000
      pixeldrift world export data/world-heldout --n 500 --split heldout --size 128
    """
    try:
        path = export_dataset(directory, ExportSettings(count=count, size=int(size), seed=seed, split=split))
    except ExportError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"wrote {count} images and metadata.jsonl to {path}")


@world.command("check")
@click.option("--n", "count", type=click.IntRange(10, 100_000), default=1000, show_default=True,
              help="Scenes per figure.")
@click.option("--size", type=click.Choice([str(s) for s in IMAGE_SIZES]), default="64", show_default=True,
              help="Image side in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the scenes.")
def check_command(count: int, size: str, seed: int) -> None:
    """Measure the verifier on the world's own images.

    Prints four shares: rendered scenes verified as correct; the same after
    noise 0.03, blur 0.5 and JPEG 75; swapped-caption negatives rejected;
    one-attribute changes (hard negatives) rejected.

    \b
    Examples:
      pixeldrift world check
      pixeldrift world check --n 3000 --size 128
    """
    for name, share in verifier_report(count, int(size), seed).items():
        click.echo(f"{name:>15}: {100 * share:6.2f}%  ({count} scenes, {size}x{size})")
