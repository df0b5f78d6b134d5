"""An image folder with captions in metadata.jsonl (the layout Hugging Face datasets read)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image

from pixeldrift.data.examples import ExampleSource

MAX_IMAGE_PIXELS = 4096 * 4096


class ImageFolder(ExampleSource):
    """Rows of metadata.jsonl with `file_name` and `text`; index i reads row perm_epoch[i % n].

    Each pass over the data (epoch) uses its own seeded shuffle, so indices stay
    reproducible across restarts. Images are resized to `size` x `size`.
    """

    def __init__(self, folder: str | Path, size: int = 64, seed: int = 0):
        self.folder, self.size, self.seed = Path(folder), size, seed
        self.rows = self._read_metadata(self.folder / "metadata.jsonl")

    @staticmethod
    def _read_metadata(path: Path) -> list[tuple[str, str]]:
        if not path.is_file():
            raise ValueError(f"{path.parent}: no metadata.jsonl (one JSON object per line with file_name and text)")
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append((str(row["file_name"]), str(row["text"])))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"{path}:{number}: expected a JSON object with file_name and text") from None
        if not rows:
            raise ValueError(f"{path}: no rows")
        return rows

    def _row(self, index: int) -> tuple[str, str]:
        epoch, position = divmod(index, len(self.rows))
        order = list(range(len(self.rows)))
        random.Random(f"{self.seed}:{epoch}").shuffle(order)
        return self.rows[order[position]]

    def example(self, index: int) -> tuple[np.ndarray, str]:
        name, text = self._row(index)
        path = (self.folder / name).resolve()
        if self.folder.resolve() not in path.parents:
            raise ValueError(f"{name}: file_name must stay inside {self.folder}")
        with Image.open(path) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValueError(f"{name}: {image.width}x{image.height} is larger than allowed")
            rgb = image.convert("RGB").resize((self.size, self.size), Image.Resampling.BICUBIC)
        return np.asarray(rgb), text
