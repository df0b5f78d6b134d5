"""Several images side by side on one sheet (or frame after frame in a GIF), as the CLI and the trainer write them."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pixeldrift.atomic_write import write_bytes_atomically


def contact_sheet(images: list[Image.Image], columns: int | None = None, gap: int = 2) -> Image.Image:
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    columns = columns or min(len(images), 4)
    rows = -(-len(images) // columns)
    w, h = images[0].size
    sheet = Image.new("RGB", (columns * w + (columns - 1) * gap, rows * h + (rows - 1) * gap), "white")
    for i, image in enumerate(images):
        sheet.paste(image, ((i % columns) * (w + gap), (i // columns) * (h + gap)))
    return sheet


def labelled_sheet(images: list[Image.Image], columns: int, column_titles: list[str], row_titles: list[str],
                   title: str = "", gap: int = 2) -> Image.Image:
    """A grid of equal-size images with titles above the columns, left of the rows, and on top."""
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line = measure.textbbox((0, 0), "Ag", font=font)[3] + 4
    left = max((measure.textlength(t, font=font) for t in row_titles), default=0)
    left = int(left) + 8 if row_titles else 0
    top = (line if column_titles else 0) + (line if title else 0)
    body = contact_sheet(images, columns, gap)
    w, h = images[0].size
    sheet = Image.new("RGB", (left + body.width, top + body.height), "white")
    sheet.paste(body, (left, top))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((left, 2), title, fill="black", font=font)
    for i, text in enumerate(column_titles):
        draw.text((left + i * (w + gap), top - line + 2), _fit(draw, text, font, w + gap), fill="black", font=font)
    for j, text in enumerate(row_titles):
        draw.text((4, top + j * (h + gap) + h // 2 - line // 2), text, fill="black", font=font)
    return sheet


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """Shorten a column title with an ellipsis so it stays over its own column.

    Columns may be one pixel wide, narrower than ".." itself: then the title is dropped
    (each try is one character shorter, so this always ends).
    """
    if draw.textlength(text, font=font) <= width:
        return text
    for keep in range(len(text) - 1, -1, -1):
        if draw.textlength(text[:keep] + "..", font=font) <= width:
            return text[:keep] + ".."
    return ""


def save_gif(frames: list[Image.Image], path: str | Path, comment: str = "", millis: int = 250) -> Path:
    """An endlessly looping animated GIF, written atomically; `comment` goes into the file."""
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=millis, loop=0,
                   comment=comment.encode("utf-8"))
    return write_bytes_atomically(path, buffer.getvalue())


def save_png(image: Image.Image, path: str | Path) -> Path:
    """A plain PNG written atomically: for pictures that are not generated images (e.g. the forward process)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return write_bytes_atomically(path, buffer.getvalue())
