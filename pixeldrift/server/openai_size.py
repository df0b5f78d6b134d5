"""The size an OpenAI client asks for, and the size the model draws it at.

OpenAI's clients ask for what their models draw (1024x1024 by default for dall-e-3 and
gpt-image-1). A size the model cannot draw natively is drawn at the model's own scale with
the same aspect ratio, then resized with Lanczos resampling (sharp, little ringing), and
the response says so: the client gets the size it asked for, and knows how it was made.
On a server with a trained upscaler (`serve --upscaler`, pipeline/upscaler.py) whose input is
the model's own size, a square size above it is drawn at that size, enlarged by the upscaler,
then resized by Lanczos to the size asked for (where that differs from the upscaler's).
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
    upscaler: object = None           # the trained upscaler that enlarges the drawing first, if any

    def note(self, model: str) -> str | None:
        if self.output is None:
            return None
        wanted = f"{self.output[0]}x{self.output[1]}"
        if self.upscaler is not None:
            side = self.upscaler.out_size
            return (f"{model} draws {self.width}x{self.height}: the image was drawn at that size, enlarged to "
                    f"{side}x{side} by the upscaler {self.upscaler.name!r}"
                    + (f" and resized to {wanted} with Lanczos resampling" if self.output != (side, side) else ""))
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


def plan_size(size: tuple[int, int] | None, limits: ModelLimits, max_side: int, upscaler=None) -> SizePlan:
    """Natively when the model can draw `size`; else at the model's default scale, to be resized. With a trained
    upscaler that takes the model's own size, square sizes above it are drawn at that size and enlarged."""
    if size is None:
        return SizePlan(None, None, None)
    if upscaler is not None and _enlarges(size, limits, upscaler.config.low_res_size):
        side = upscaler.config.low_res_size
        return SizePlan(side, side, size, upscaler)
    width, height = size
    m, top = limits.size_multiple, min(limits.max_side, max_side)
    if width % m == 0 and height % m == 0 and m <= min(size) and max(size) <= top:
        return SizePlan(width, height, None)
    scale = max(limits.default_width, limits.default_height) / max(size)
    drawn = [min(top, max(m, round(side * scale / m) * m)) for side in size]
    return SizePlan(drawn[0], drawn[1], size)


def _enlarges(size: tuple[int, int], limits: ModelLimits, side: int) -> bool:
    """Whether an upscaler taking `side` makes `size`: a square above the side, the model's own (default) square."""
    own = (limits.default_width, limits.default_height) == (side, side) and limits.accepts_side(side)
    return own and size[0] == size[1] > side
