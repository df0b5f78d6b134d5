"""`pixeldrift spot IMAGE...`: is each picture AI-generated? Provenance marks first, then the detector."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pixeldrift.classroom.detector import MIN_SIDE, load_detector
from pixeldrift.classroom.verdict import AI, judge
from pixeldrift.cli.provenance import shown
from pixeldrift.provenance.safe_image import MAX_FILE_BYTES, ImageReadError, load_rgb

DEFAULT_DETECTOR = Path(__file__).resolve().parents[2] / "models" / "detector-spot"
MAX_IMAGES = 256            # one call's files: a class's worth, not a crawl
MAX_PIXELS = 4096 * 4096    # the detector reads a 256 px centre crop; the watermark check reads it all


def spot_file(path: str, detector):
    """The Verdict on one file; ImageReadError (a ValueError) naming the file and the reason."""
    pixels = load_rgb(path, max_pixels=MAX_PIXELS)
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise ImageReadError(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} is too small; "
                             f"both sides must be at least {MIN_SIDE} pixels")
    with open(path, "rb") as file:
        head = file.read(MAX_FILE_BYTES)
    return judge(pixels, detector, head)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--detector", "detector_dir", type=click.Path(file_okay=False), default=str(DEFAULT_DETECTOR),
              show_default="models/detector-spot", help="The detector folder (bench/spot_the_ai.py writes one).")
@click.option("--no-detector", is_flag=True, help="Only the provenance checks (label, parameters, C2PA, watermark).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image.")
def spot(images: tuple[str, ...], detector_dir: str, no_detector: bool, as_json: bool) -> None:
    """Say whether each picture is AI-generated, with the reasons.

    Any provenance mark (pixeldrift's AI label, generation parameters, a C2PA manifest,
    the invisible watermark) makes the verdict AI-generated. Without one, a small CNN
    reads the pixels (metadata dropped, watermark subtracted) and its score is compared
    with a threshold set for 5% false positives on the world's renders; it was trained
    on 64x64 world pictures and knows nothing of photographs (docs/spot_the_ai.md).

    \b
    Exit status: 0 when none is flagged, 1 when some are, 2 when some could not be read.

    \b
    Examples:
      pixeldrift spot out.png
      pixeldrift spot pictures/*.png --json
    """
    if len(images) > MAX_IMAGES:
        raise click.UsageError(f"{len(images)} images given; at most {MAX_IMAGES} per call")
    try:
        detector = None if no_detector else load_detector(detector_dir)
    except ValueError as error:
        raise click.ClickException(f"cannot open the detector: {error} (or pass --no-detector)") from None
    status = 0
    for path in images:
        try:
            verdict = spot_file(path, detector)
        except (ImageReadError, OSError) as error:
            reason = str(error).removeprefix(f"{path}: ")   # the reader's messages name the file already
            click.echo(f"{shown(path)}: error: {shown(reason)}", err=True)
            status = 2
            continue
        status = max(status, int(verdict.verdict == AI))
        if as_json:
            click.echo(json.dumps({"image": path, **verdict.to_dict()}))
            continue
        score = "" if verdict.score is None else f" (detector {verdict.score:.2f}, threshold {verdict.threshold:.2f})"
        click.echo(f"{shown(path)}: {verdict.verdict}{score}")
        for reason in verdict.reasons:
            click.echo(f"  - {reason}")
    raise SystemExit(status)
