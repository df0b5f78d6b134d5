"""Opening untrusted images (files or uploaded bytes) with clear errors and a decompression-bomb guard."""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 64_000_000       # 8000 x 8000: far above anything we make, far below a bomb
MAX_FILE_BYTES = 512 << 20
# Formats an upload may use: the common web ones. Others (EPS runs Ghostscript, ...) are refused.
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class ImageReadError(ValueError):
    """The file cannot be read as an image; the message names the file and the reason."""


@contextlib.contextmanager
def _read_errors(name: str, unreadable: str = "not an image file Pillow can read"):
    """Turn whatever Pillow raises while reading into an ImageReadError naming `name`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(f"{name}: refused as a possible decompression bomb ({error})") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: {unreadable}") from None
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{name}: is a folder, not an image file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"{name}: damaged or truncated image ({error})") from None


def _check_pixels(image: Image.Image, name: str, max_pixels: int) -> None:
    """Called after the header is read and before any pixel is decoded."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageReadError(f"{name}: {width}x{height} image has {width * height} pixels, "
                             f"more than the {max_pixels} allowed (decompression-bomb guard)")


def load_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Pixels of an image file as RGB uint8 (H, W, 3); raises ImageReadError with the reason."""
    name = os.fspath(path)
    with _read_errors(name):
        if os.path.getsize(name) > MAX_FILE_BYTES:
            raise ImageReadError(f"{name}: file larger than {MAX_FILE_BYTES >> 20} MiB")
        with Image.open(name) as image:
            _check_pixels(image, name, max_pixels)
            return np.asarray(image.convert("RGB"))


def decode_image_bytes(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS,
                       max_bytes: int = MAX_FILE_BYTES) -> Image.Image:
    """An uploaded image held in memory, decoded in its own mode (RGBA stays RGBA) and fully loaded.

    The same guards as load_rgb: a byte limit, the pixel count checked from the header
    before decoding, and an ImageReadError naming `name` for anything unreadable.
    Only UPLOAD_FORMATS are accepted.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise ImageReadError(f"{name}: expected image bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ImageReadError(f"{name}: {len(data)} bytes, more than the {max_bytes} allowed")
    if not data:
        raise ImageReadError(f"{name}: empty, no image data")
    with _read_errors(name, f"not an image in a format accepted here ({', '.join(UPLOAD_FORMATS)})"):
        with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as image:
            _check_pixels(image, name, max_pixels)
            image.load()
            return image.copy()


def load_rgb_bytes(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Pixels of an uploaded image as RGB uint8 (H, W, 3); see decode_image_bytes."""
    return np.asarray(decode_image_bytes(data, name, max_pixels).convert("RGB"))
