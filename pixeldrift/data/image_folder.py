"""An image folder with captions: in metadata.jsonl (the layout Hugging Face datasets read), or in a .txt
file beside each image (the layout kohya's sd-scripts read: data/caption_files.py).

The whole folder is checked when it is opened, before training step 1: every line
of metadata.jsonl and every image it names, each problem reported with its line
number in one error. Every input is bounded before work is done on it: the
metadata file and each line by size, captions like prompts, each image file by
size, format (no Ghostscript or other plug-in behind an allow-listed suffix) and
pixel count, and nothing but regular files is opened (a FIFO would block forever).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
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
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
_LISTED = 20                    # bad lines named in one error before "and N more"
IMAGE_ERRORS = (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError, EOFError)


class DatasetError(BadFileError):
    """A training folder that cannot be used: the message names the file and every bad line."""


class ImageFolder(ExampleSource):
    """Rows of metadata.jsonl with `file_name` and `text`; index i reads row perm_epoch[i % n].

    With `labels`, each example's text is its class name instead: the image's sub-folder, or the
    `label` field of its metadata.jsonl line; `classes` lists them, sorted.

    Each pass over the data (epoch) uses its own seeded shuffle, so indices stay
    reproducible across restarts. Images are resized to `size` x `size`.
    """

    def __init__(self, folder: str | Path, size: int = 64, seed: int = 0, labels: bool = False):
        self.folder, self.size, self.seed = Path(folder), size, seed
        if labels:  # class names instead of captions (pixeldrift.data.class_folder)
            from pixeldrift.data.class_folder import check_labelled_folder, class_names
            self.rows = check_labelled_folder(self.folder)
            self.classes: tuple[str, ...] | None = class_names(self.rows)
        elif (self.folder / "metadata.jsonl").exists() or (self.folder / "metadata.jsonl").is_symlink():
            self.rows, self.classes = check_folder(self.folder), None
        else:
            from pixeldrift.data.caption_files import check_caption_folder
            self.rows, self.classes = check_caption_folder(self.folder), None

    def size_report(self) -> list[str]:
        """What `--check` says about the images' sizes: each file whose size differs from the most common
        one, or that is not square, by name (every image is resized to size x size to train)."""
        return size_report(self.folder, [name for name, _ in self.rows], self.size)

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
        except IMAGE_ERRORS as error:  # changed on disk since the folder was checked
            raise DatasetError(f"{self.folder / name}: {reason(error)}") from None
        return np.asarray(rgb), text


def check_folder(folder: Path, parse_row=None) -> list[tuple[str, str]]:
    """The (file_name, text) rows of a training folder, every line and image checked; DatasetError
    naming every bad line by number otherwise. `parse_row(line) -> (file_name, text)` reads another
    field than text (class labels do)."""
    path = folder / "metadata.jsonl"
    if not path.exists():
        raise DatasetError(f"{folder}: no metadata.jsonl (one JSON object per line with file_name and text)")
    regular_file(path, MAX_METADATA_BYTES, "metadata.jsonl")
    rows, problems = [], []
    for number, line in _lines(path):
        try:
            name, text = (parse_row or _parse_row)(line)
            if name is not None:
                check_image(folder, name, f"line {number}")
                rows.append((name, text))
        except (ValueError, *IMAGE_ERRORS) as error:
            problems.append(f"line {number}: {reason(error)}")
    refuse_problems(path, problems, "bad lines")
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


def refuse_problems(where: Path, problems: list[str], what: str) -> None:
    """DatasetError naming the first problems and how many more, when there are any."""
    if problems:
        more = f"; and {len(problems) - _LISTED} more" if len(problems) > _LISTED else ""
        raise DatasetError(f"{where}: {len(problems)} {what}: " + "; ".join(problems[:_LISTED]) + more)


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


def json_line(line: bytes | None):
    """The JSON value of one line of metadata.jsonl; None for a blank line; ValueError saying what is wrong."""
    if line is None:
        raise ValueError(f"longer than {MAX_LINE_BYTES} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("not valid JSON") from None


def _parse_row(line: bytes | None) -> tuple[str | None, str]:
    """(file_name, text) of one line; (None, "") for a blank line; ValueError saying what is wrong."""
    row = json_line(line)
    if row is None:
        return None, ""
    if not isinstance(row, dict) or not isinstance(row.get("file_name"), str) or \
            not isinstance(row.get("text"), (str, int, float)) or isinstance(row.get("text"), bool):
        raise ValueError("expected a JSON object with file_name and text")
    caption = str(row["text"])
    if len(caption) > MAX_CAPTION_CHARS:
        raise ValueError(f"the caption has {len(caption)} characters; captions, like prompts, are limited to "
                         f"{MAX_CAPTION_CHARS}")
    return row["file_name"], caption


def check_image(folder: Path, name: str, entry: str) -> None:
    """Open and decode the image `entry` (a metadata line) names, so a broken one is found before training."""
    with open_image(folder, name, entry) as image:
        image.load()


def size_report(folder: Path, names: list[str], size: int) -> list[str]:
    """One line per image whose (width, height) differs from the folder's most common size or is not square
    (read from the headers); nothing when all share one square size."""
    sizes = {}
    for name in names:
        with open_image(folder, name) as image:
            sizes[name] = image.size
    common = Counter(sizes.values()).most_common(1)[0][0] if sizes else None
    lines = [f"{name}: {w}x{h}" + (" (not square: stretched)" if w != h else "") + f", resized to {size}x{size}"
             for name, (w, h) in sizes.items() if (w, h) != common or w != h]
    if lines and common is not None:
        lines.insert(0, f"mixed sizes: most images are {common[0]}x{common[1]}; these are not:")
    return lines


def folder_entries(folder: Path) -> list[os.DirEntry]:
    """A folder's entries but hidden ones, sorted by name; at most MAX_ROWS of them."""
    entries = []
    with os.scandir(folder) as scan:
        for entry in scan:
            if len(entries) >= MAX_ROWS:
                raise DatasetError(f"{folder}: over {MAX_ROWS} entries")
            if not entry.name.startswith("."):
                entries.append(entry)
    return sorted(entries, key=lambda e: e.name)


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


def reason(error: Exception) -> str:
    """An image library's error as one short clause (its own types mean nothing to a user)."""
    if isinstance(error, UnidentifiedImageError):
        return f"not an image in an accepted format ({', '.join(IMAGE_FORMATS)})"
    if isinstance(error, Image.DecompressionBombError):
        return f"too many pixels (a decompression bomb?): {error}"
    if isinstance(error, (OSError, SyntaxError, EOFError)) and not isinstance(error, BadFileError):
        return f"cannot be decoded (truncated or corrupt?): {error}"
    return str(error)
