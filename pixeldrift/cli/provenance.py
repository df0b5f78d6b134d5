"""`pixeldrift info`, `detect` and `verify`: check the labels of any image file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pixeldrift.cli.moderate import moderate
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.png_chunks import PngFormatError
from pixeldrift.provenance.safe_image import MAX_FILE_BYTES, ImageReadError, load_rgb
from pixeldrift.provenance.watermark import detect_watermark


SHOWN_CHARS = 2000   # a value longer than this is cut in `info`'s text output (--json keeps it whole)
# bidirectional overrides reorder what the reader sees (Trojan Source, CVE-2021-42574)
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` safe to print on a terminal: control characters escaped (ESC as \\x1b), long values cut.

    Text chunks come from anyone's file; printed raw, their escape sequences would
    clear the screen, recolour it or set the window title. Newlines are kept.
    """
    cut = len(text) - limit
    text = "".join(_escaped(c) for c in text[:limit])
    return text + (f"... ({cut} more characters)" if cut > 0 else "")


def _escaped(char: str) -> str:
    code = ord(char)
    if char == "\n" or not (code < 0x20 or 0x7f <= code <= 0x9f or char in _BIDI_CONTROLS):
        return char
    return f"\\x{code:02x}" if code <= 0xff else f"\\u{code:04x}"


def _read_bytes(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise click.UsageError(f"{path}: no such file")
    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(f"{path}: file larger than {MAX_FILE_BYTES >> 20} MiB")
    return file.read_bytes()


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(image: str, as_json: bool) -> None:
    """Show the generation settings and AI-generated labels stored in a PNG.

    \b
    Exit status: 0 when pixeldrift labels were read, 1 when there are none or the file is no PNG.

    \b
    Examples:
      pixeldrift info out.png
      pixeldrift info out.png --json
    """
    try:
        labels = read_labels(_read_bytes(image))
    except PngFormatError as error:
        raise click.ClickException(f"{image}: {error}") from None
    if as_json:
        # ASCII-only JSON: every control character (C1 too) arrives as \\u escape, never raw
        click.echo(json.dumps({"width": labels.width, "height": labels.height, "parameters": labels.parameters,
                               "label": labels.label, "ai_generated": labels.ai_generated,
                               "c2pa_manifest": labels.has_c2pa, "problems": labels.problems}))
    else:
        _print_labels(shown(image), labels)
    if labels.label is None and labels.parameters is None:
        raise SystemExit(1)


def _print_labels(name: str, labels) -> None:
    click.echo(f"{name}: {labels.width}x{labels.height} PNG")
    click.echo("AI-generated: " + ("yes (IPTC trainedAlgorithmicMedia)" if labels.ai_generated else "no label found"))
    click.echo(f"C2PA manifest: {'present (pixeldrift verify checks it)' if labels.has_c2pa else 'none'}")
    if labels.label:
        click.echo(f"watermark: {shown(json.dumps(labels.label.get('watermark')))}")
    click.echo("parameters:\n" + shown(labels.parameters) if labels.parameters else "parameters: none")
    for problem in labels.problems:
        click.echo(f"warning: {shown(problem)}", err=True)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image.")
def detect(images: tuple[str, ...], as_json: bool) -> None:
    """Look for the invisible pixeldrift watermark in image files (PNG, JPEG, WebP, ...).

    "found" is reported only when the chance of such a score on an unmarked image is
    proven below 1 in 1,000; the confidence is one minus that bound. Reliable from
    512x512 pixels up; smaller images carry a weaker mark.

    \b
    Exit status: 0 if every image carries the mark, 1 if some do not, 2 if some could not be read.

    \b
    Examples:
      pixeldrift detect out.png
      pixeldrift detect downloads/*.jpg --json
    """
    status = 0
    for path in images:
        try:
            result = detect_watermark(load_rgb(path))
        except (ImageReadError, ValueError) as error:
            click.echo(f"{path}: error: {error}", err=True)
            status = 2
            continue
        status = max(status, 0 if result.found else 1)
        if as_json:
            click.echo(json.dumps({"image": path, "found": result.found, "confidence": result.confidence,
                                   "false_alarm_bound": result.false_alarm_bound, "score": result.score,
                                   "payload_id": result.payload_id, "id_checked": result.id_checked}))
        elif result.found:
            id_note = "" if result.id_checked else " (id unchecked: CRC mismatch)"
            click.echo(f"{path}: pixeldrift watermark found, id {result.payload_id}{id_note}, "
                       f"confidence {result.confidence:.6f} (score {result.score:.2f} >= {result.threshold:.2f})")
        else:
            click.echo(f"{path}: pixeldrift watermark not found (score {result.score:.2f} < {result.threshold:.2f})")
    raise SystemExit(status)


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def verify(image: str, as_json: bool) -> None:
    """Check the C2PA Content Credentials of an image (needs the `provenance` extra).

    \b
    Exit status: 0 when a manifest validates, 1 when none is present or it fails, 2 on bad input.

    \b
    Examples:
      pixeldrift verify signed.png
      pixeldrift verify signed.png --json
    """
    from pixeldrift.provenance.content_credentials import ContentCredentialsUnavailable, verify_image

    data = _read_bytes(image)
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg" if data.startswith(b"\xff\xd8") else None
    if mime is None:
        raise click.ClickException(f"{image}: not a PNG or JPEG file; verify reads PNG and JPEG")
    try:
        report = verify_image(data, mime)
    except ContentCredentialsUnavailable as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(report.manifest, ensure_ascii=False, indent=2))
    if not report.present:
        click.echo(f"{image}: no C2PA manifest")
        raise SystemExit(1)
    verdict = "valid" if report.valid else f"NOT valid ({report.validation_state or 'unreadable'})"
    if report.valid and not report.trusted:
        verdict += " (signer not on a trust list)"
    click.echo(f"{image}: C2PA manifest {verdict}; issuer {report.issuer or 'unknown'}; "
               f"AI-generated: {'yes' if report.ai_generated else 'not stated'}")
    for problem in report.problems:
        click.echo(f"  problem: {problem}")
    raise SystemExit(0 if report.valid else 1)


# Registered together in main.py: the checks that keep pixeldrift's images honest.
TRUST_COMMANDS = (info, detect, verify, moderate)
