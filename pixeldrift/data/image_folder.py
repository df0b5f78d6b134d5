"""An image folder with captions in metadata.jsonl (the layout Hugging Face datasets read).

The whole folder is checked when it is opened, before training step 1: every line
of metadata.jsonl and every image it names, each problem reported with its line
number in one error. Every input is bounded before work is done on it: the
metadata file and each line by size, captions like prompts, each image file by
size, format (no Ghostscript or other plug-in behind an allow-listed suffix) and
pixel count, and nothing but regular files is opened (a FIFO would block forever).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pixeldrift.bounded_files import BadFileError, inside, regular_file
from pixeldrift.data.examples import ExampleSource

MAX_IMAGE_PIXELS = 4096 * 4096
MAX_IMAGE_BYTES = 256 << 20
MAX_CAPTION_CHARS = 2000        # the bound on prompts, so training never sees a caption a prompt cannot be
MAX_LINE_BYTES = 64 << 10       # a line holding a file name and a 2000-character caption fits many times
MAX_METADATA_BYTES = 512 << 20
MAX_ROWS = 1_000_000
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
_LISTED = 20                    # bad lines named in one error before "and N more"
_IMAGE_ERRORS = (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError, EOFError)


class DatasetError(BadFileError):
    """A training folder that cannot be used: the message names the file and every bad line."""


class ImageFolder(ExampleSource):
    """Rows of metadata.jsonl with `file_name` and `text`; index i reads row perm_epoch[i % n].

    Each pass over the data (epoch) uses its own seeded shuffle, so indices stay
    reproducible across restarts. Images are resized to `size` x `size`.
    """

    def __init__(self, folder: str | Path, size: int = 64, seed: int = 0):
        self.folder, self.size, self.seed = Path(folder), size, seed
        self.rows = check_folder(self.folder)

    def _row(self, index: int) -> tuple[str, str]:
        epoch, position = divmod(index, len(self.rows))
        order = list(range(len(self.rows)))
        random.Random(f"{self.seed}:{epoch}").shuffle(order)
        return self.rows[order[position]]

    def example(self, index: int) -> tuple[np.ndarray, str]:
        name, text = self._row(index)
        try:
            with open_image(self.folder, name) as image:
                rgb = image.convert("RGB").resize((self.size, self.size), Image.Resampling.BICUBIC)
        except _IMAGE_ERRORS as error:  # changed on disk since the folder was checked
            raise DatasetError(f"{self.folder / name}: {_reason(error)}") from None
        return np.asarray(rgb), text


def check_folder(folder: Path) -> list[tuple[str, str]]:
    """The (file_name, text) rows of a training folder, every line and image checked; DatasetError
    naming every bad line by number otherwise."""
    path = folder / "metadata.jsonl"
    if not path.exists():
        raise DatasetError(f"{folder}: no metadata.jsonl (one JSON object per line with file_name and text)")
    regular_file(path, MAX_METADATA_BYTES, "metadata.jsonl")
    rows, problems = [], []
    for number, line in _lines(path):
        try:
            name, text = _parse_row(line)
            if name is not None:
                _check_image(folder, name, number)
                rows.append((name, text))
        except (ValueError, *_IMAGE_ERRORS) as error:
            problems.append(f"line {number}: {_reason(error)}")
    if problems:
        more = f"; and {len(problems) - _LISTED} more" if len(problems) > _LISTED else ""
        raise DatasetError(f"{path}: {len(problems)} bad lines: " + "; ".join(problems[:_LISTED]) + more)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


def _lines(path: Path):
    """(line number, bytes) of a file, a line over MAX_LINE_BYTES given as None (and never held whole)."""
    with open(path, "rb") as file:
        for number in range(1, MAX_ROWS + 2):
            line = file.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if number > MAX_ROWS:
                raise DatasetError(f"{path}: over {MAX_ROWS} lines")
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                line = None
            yield number, line


def _parse_row(line: bytes | None) -> tuple[str | None, str]:
    """(file_name, text) of one line; (None, "") for a blank line; ValueError saying what is wrong."""
    if line is None:
        raise ValueError(f"longer than {MAX_LINE_BYTES} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text.strip():
        return None, ""
    try:
        row = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(row, dict) or not isinstance(row.get("file_name"), str) or \
            not isinstance(row.get("text"), (str, int, float)) or isinstance(row.get("text"), bool):
        raise ValueError("expected a JSON object with file_name and text")
    caption = str(row["text"])
    if len(caption) > MAX_CAPTION_CHARS:
        raise ValueError(f"the caption has {len(caption)} characters; captions, like prompts, are limited to "
                         f"{MAX_CAPTION_CHARS}")
    return row["file_name"], caption


def _check_image(folder: Path, name: str, number: int) -> None:
    """Open and decode the image a line names, so a broken one is found before training starts."""
    with open_image(folder, name, f"line {number}") as image:
        image.load()


def open_image(folder: Path, name: str, entry: str | None = None) -> Image.Image:
    """A training image: inside the folder, a regular file of bounded size, an allow-listed format,
    and at most MAX_IMAGE_PIXELS pixels (checked on the header, before decoding)."""
    path = folder / name
    if not name or "\0" in name:
        raise ValueError(f"{name!r}: not a file name")
    try:
        inside(folder, path, entry)
    except BadFileError:
        raise ValueError(f"{name}: file_name must stay inside {folder}") from None
    regular_file(path, MAX_IMAGE_BYTES, "image file")
    image = Image.open(path, formats=IMAGE_FORMATS)
    if image.width * image.height > MAX_IMAGE_PIXELS:
        image.close()
        raise ValueError(f"{name}: {image.width}x{image.height} is larger than allowed ({MAX_IMAGE_PIXELS} pixels)")
    return image


def _reason(error: Exception) -> str:
    """An image library's error as one short clause (its own types mean nothing to a user)."""
    if isinstance(error, UnidentifiedImageError):
        return f"not an image in an accepted format ({', '.join(IMAGE_FORMATS)})"
    if isinstance(error, Image.DecompressionBombError):
        return f"too many pixels (a decompression bomb?): {error}"
    if isinstance(error, (OSError, SyntaxError, EOFError)) and not isinstance(error, BadFileError):
        return f"cannot be decoded (truncated or corrupt?): {error}"
    return str(error)
