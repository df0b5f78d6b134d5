"""Dataset export: an image folder with ``metadata.jsonl``, the layout Hugging Face
``datasets`` ("imagefolder") and the diffusers training scripts read.

Each line holds ``file_name``, ``text`` (a caption in a random style) and the
spec, plus the seed and style that made them. The folder is built under a
temporary name beside the target and renamed into place at the end, so a folder
at the target path is always a complete dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import os
from pathlib import Path
import random
import shutil
import tempfile

from PIL import Image

from pixeldrift.world.paraphrase import random_caption
from pixeldrift.world.render import render
from pixeldrift.world.sample import SPLITS, sample_spec
from pixeldrift.world.spec import IMAGE_SIZES, SpecError, spec_to_dict


class ExportError(ValueError):
    """The export cannot start: a bad setting or a target that already exists."""


@dataclass(frozen=True)
class ExportSettings:
    count: int
    size: int = 64
    seed: int = 0
    split: str = "train"

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or self.count < 1:
            raise ExportError(f"count: {self.count!r} is not accepted; accepted: a positive integer")
        if self.size not in IMAGE_SIZES:
            raise ExportError(f"size: {self.size!r} is not accepted; accepted: {', '.join(map(str, IMAGE_SIZES))}")
        if self.split not in SPLITS:
            raise ExportError(f"split: {self.split!r} is not accepted; accepted: {', '.join(SPLITS)}")


def _records(settings: ExportSettings):
    """(file name, image, metadata) for each example; one seeded stream decides everything."""
    rng = random.Random(settings.seed)
    digits = len(str(settings.count - 1))
    for index in range(settings.count):
        while True:
            spec, seed = sample_spec(rng, settings.split), rng.randrange(2**31)
            try:
                image = render(spec, settings.size, seed)
                break
            except SpecError:  # a word too long for a small sign: draw another scene
                continue
        text, style = random_caption(spec, rng)
        name = f"{index:0{digits}d}.png"
        yield name, image, {"file_name": name, "text": text, "spec": spec_to_dict(spec), "seed": seed, "style": style}


def export_dataset(target: str | Path, settings: ExportSettings) -> Path:
    """Write ``settings.count`` examples into the new folder ``target``; returns its path."""
    target = Path(target)
    if target.exists():
        raise ExportError(f"target: {str(target)!r} already exists; accepted: a path that does not exist yet")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        with open(staging / "metadata.jsonl", "w", encoding="utf-8") as metadata:
            for name, image, record in _records(settings):
                Image.fromarray(image).save(staging / name)
                metadata.write(json.dumps(record) + "\n")
            metadata.flush()
            os.fsync(metadata.fileno())
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
