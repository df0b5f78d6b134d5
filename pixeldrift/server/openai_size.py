"""The size an OpenAI client asks for, and the size the model draws it at.

OpenAI's clients ask for what their models draw (1024x1024 by default for dall-e-3 and
gpt-image-1). A size the model cannot draw natively is drawn at the model's own scale with
the same aspect ratio, then resized with Lanczos resampling (sharp, little ringing), and
the response says so: the client gets the size it asked for, and knows how it was made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixeldrift.pipeline.request import ModelLimits
from pixeldrift.server.errors import ApiError

MAX_OUTPUT_SIDE = 2048   # what any OpenAI model returns at most; a bound on memory and PNG time


@dataclass(frozen=True)
class SizePlan:
    width: int | None                 # what the model draws; None: its own default
    height: int | None
    output: tuple[int, int] | None    # what the client gets, when that differs

    def note(self, model: str) -> str | None:
        if self.output is None:
            return None
        wanted = f"{self.output[0]}x{self.output[1]}"
        return (f"{model} cannot draw {wanted} natively: the image was drawn at {self.width}x{self.height} and "
                f"resized to {wanted} with Lanczos resampling")


def parse_size(size) -> tuple[int, int] | None:
    """(width, height) from "1024x1024"; None for "auto" or nothing; ApiError naming "size" otherwise."""
    if size in (None, "", "auto"):
        return None
    match = re.fullmatch(r"(\d{1,5})x(\d{1,5})", str(size).strip().lower())
    if match is None:
        raise ApiError(400, f"size must look like 1024x1024 or be 'auto', got {str(size)[:40]!r}", "size")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_OUTPUT_SIDE and 1 <= height <= MAX_OUTPUT_SIDE):
        raise ApiError(400, f"size must be from 1x1 to {MAX_OUTPUT_SIDE}x{MAX_OUTPUT_SIDE}, got {size}", "size")
    return width, height


def plan_size(size: tuple[int, int] | None, limits: ModelLimits, max_side: int) -> SizePlan:
    """Natively when the model can draw `size`; else at the model's default scale, to be resized."""
    if size is None:
        return SizePlan(None, None, None)
    width, height = size
    m, top = limits.size_multiple, min(limits.max_side, max_side)
    if width % m == 0 and height % m == 0 and m <= min(size) and max(size) <= top:
        return SizePlan(width, height, None)
    scale = max(limits.default_width, limits.default_height) / max(size)
    drawn = [min(top, max(m, round(side * scale / m) * m)) for side in size]
    return SizePlan(drawn[0], drawn[1], size)
