"""Several images side by side on one sheet, as the CLI and the trainer write them."""

from __future__ import annotations

from PIL import Image


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
