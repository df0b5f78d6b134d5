"""From an uploaded image to the control map a ControlNet reads, shared by the two APIs that take controls.

The AUTOMATIC1111 API's ControlNet units (a1111_controlnet.py) and the studio's own
controls (own_controls.py) send the same things under other names: an image, a
preprocessing module, a served ControlNet, a strength and the span of the steps where
it acts. Both are checked here, so the two APIs refuse the same mistakes with the same
reasons, each naming its own field:

    module   none (the image is the map), canny (thresholds low/high), invert, edges, scribble
    model    a ControlNet the server was started with (--control), for the model generating
    size     an image of another size than the one generated is refused unless the request
             says how to fit it: nothing is resized unless asked
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageOps

from pixeldrift.pipeline.control_maps import CANNY_HIGH, CANNY_LOW, IMAGE_MAPS
from pixeldrift.server.errors import ApiError


def _canny(pixels: np.ndarray, low: float = -1, high: float = -1) -> np.ndarray:
    """Canny with thresholds low and high (1 to 255), each out of that range meaning ControlNet's default."""
    low = low if 1 <= low <= 255 else CANNY_LOW
    high = high if 1 <= high <= 255 else CANNY_HIGH
    return IMAGE_MAPS["edges"](pixels, low, high)


# module name -> (RGB uint8 pixels, canny's low, high) -> the map's pixels
MODULES = {"none": lambda pixels, low=-1, high=-1: pixels, "canny": _canny,
           "invert": lambda pixels, low=-1, high=-1: 255 - pixels,
           **{kind: (lambda pixels, low=-1, high=-1, make=make: make(pixels)) for kind, make in IMAGE_MAPS.items()}}


def module_of(name: str, field: str):
    """(the module's name, its preprocessor); ApiError listing the known modules otherwise."""
    key = name.strip().lower()
    if key not in MODULES:
        raise ApiError(400, f"unknown module {name!r}; pixeldrift's modules are: {', '.join(MODULES)} (layout, "
                            "glyph and clock maps are drawn from world scenes: make one with `pixeldrift control "
                            "KIND --prompt TEXT` and send it with module none)", field)
    return key, MODULES[key]


def control_map(image: Image.Image, preprocess, low: float = -1, high: float = -1) -> Image.Image:
    """The map `preprocess` makes of `image` (RGB)."""
    pixels = preprocess(np.asarray(image.convert("RGB")), low, high)
    return Image.fromarray(np.ascontiguousarray(pixels))


def fitted(image: Image.Image, size: tuple[int, int], how: str | None, field: str, how_to_ask: str) -> Image.Image:
    """The image at the size generated: as it is, or resized ("resize"), cropped ("crop") or padded with black
    ("fill") to it; another size without `how` is refused, naming the field and `how_to_ask` to fit it."""
    if image.size == size:
        return image
    if how is None:
        raise ApiError(400, f"{field} is {image.width}x{image.height} but the image to generate is "
                            f"{size[0]}x{size[1]}; send a map of that size, or {how_to_ask}", field)
    image = image.convert("RGB")
    if how == "crop":
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    if how == "fill":
        return ImageOps.pad(image, size, Image.Resampling.LANCZOS, color=(0, 0, 0))
    return image.resize(size, Image.Resampling.LANCZOS)


def served_controlnet(studio, name: str, model, field: str):
    """The served ControlNet called `name`, checked to steer `model`; ApiError naming the field otherwise
    (an unknown name lists the served ones; another base model's ControlNet names both models)."""
    entry = checked(lambda: studio.controls.resolve(name), field)
    checked(lambda: entry.control.check_base(model), field)
    return entry.control


def check_span(start: float, end: float, field: str, start_name: str, end_name: str) -> None:
    if start >= end:
        raise ApiError(400, f"{field}: {start_name} ({start}) must come before {end_name} ({end})",
                       f"{field}.{start_name}")


def checked(action, field: str):
    """action(); its ValueError as an ApiError 400 naming the field."""
    try:
        return action()
    except ValueError as error:
        raise ApiError(400, str(error), field) from None


def png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
