"""Opening untrusted images (files or uploaded bytes): the one way pixeldrift reads an image.

Every image a command reads goes through :func:`load_rgb` (files) or the ``*_bytes``
functions (uploads), so every one gets the same guards: a byte limit, a format
allow-list judged by content (an EPS named .png never reaches Ghostscript), the pixel
count checked from the header before any pixel is decoded, and an ImageReadError
naming the file and the reason for anything unreadable.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 64_000_000       # 8000 x 8000: far above anything we make, far below a bomb
MAX_FILE_BYTES = 512 << 20
# The formats we read: the common web ones. Others are refused by content, whatever the
# file's name: EPS makes Pillow run Ghostscript, and rarer decoders are rarely hardened.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
UPLOAD_FORMATS = IMAGE_FORMATS
WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
_NOT_ACCEPTED = f"not an image in a format accepted here ({', '.join(IMAGE_FORMATS)})"
_NOT_ACCEPTED_FILE = _NOT_ACCEPTED.replace("an image", "an image file")


class ImageReadError(ValueError):
    """The file cannot be read as an image; the message names the file and the reason."""


class AnimatedImageWarning(UserWarning):
    """An animated image was read as its first frame only."""


@contextlib.contextmanager
def _read_errors(name: str, unreadable: str = _NOT_ACCEPTED):
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
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise ImageReadError(f"{name}: damaged or truncated image ({error})") from None


@contextlib.contextmanager
def _opened(source, name: str, max_pixels: int):
    """The image at `source` (a path or a binary stream), header read and pixel count checked."""
    with _read_errors(name, _NOT_ACCEPTED if isinstance(source, io.BytesIO) else _NOT_ACCEPTED_FILE):
        with Image.open(source, formats=IMAGE_FORMATS) as image:
            _check_pixels(image, name, max_pixels)
            yield image


def _check_pixels(image: Image.Image, name: str, max_pixels: int) -> None:
    """Called after the header is read and before any pixel is decoded."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageReadError(f"{name}: {width}x{height} image has {width * height} pixels, "
                             f"more than the {max_pixels} allowed (decompression-bomb guard)")


def _check_file(name: str) -> None:
    """A regular file of bounded size: a FIFO or device would block or never end."""
    with _read_errors(name):
        info = os.stat(name)
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{name}: is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{name}: not a regular file (a pipe or device is not read)")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageReadError(f"{name}: file larger than {MAX_FILE_BYTES >> 20} MiB")


def load_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS,
             background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """Pixels of an image file as RGB uint8 (H, W, 3), the way a viewer shows them.

    Raises ImageReadError with the reason. What users expect, not what the file stores:
    * 16-bit images are scaled to 8 bits (65535 -> 255), not clipped at 255;
    * transparent pixels are composited on `background` (white, like a web page);
    * the EXIF orientation is applied, so a phone photo comes out upright;
    * an animated GIF/WebP/PNG gives its first frame, with an AnimatedImageWarning
      saying so (as image editors open them), rather than an error.
    """
    name = os.fspath(path)
    _check_file(name)
    with _opened(name, name, max_pixels) as image:
        return _to_rgb(image, name, background)


def decode_image_bytes(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS,
                       max_bytes: int = MAX_FILE_BYTES) -> Image.Image:
    """An uploaded image held in memory, decoded in its own mode (RGBA stays RGBA) and fully loaded.

    The same guards as load_rgb: a byte limit, the pixel count checked from the header
    before decoding, and an ImageReadError naming `name` for anything unreadable.
    Only IMAGE_FORMATS are accepted.
    """
    _check_bytes(data, name, max_bytes)
    with _opened(io.BytesIO(data), name, max_pixels) as image:
        image.load()
        return image.copy()


def load_rgb_bytes(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS,
                   background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """Pixels of an uploaded image as RGB uint8 (H, W, 3), read as load_rgb reads files."""
    _check_bytes(data, name, MAX_FILE_BYTES)
    with _opened(io.BytesIO(data), name, max_pixels) as image:
        return _to_rgb(image, name, background)


def _check_bytes(data, name: str, max_bytes: int) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise ImageReadError(f"{name}: expected image bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ImageReadError(f"{name}: {len(data)} bytes, more than the {max_bytes} allowed")
    if not data:
        raise ImageReadError(f"{name}: empty, no image data")


def _to_rgb(image: Image.Image, name: str, background: tuple[int, int, int]) -> np.ndarray:
    """Decode an opened image and turn it into what a viewer would show, as RGB uint8."""
    if getattr(image, "is_animated", False):
        warnings.warn(f"{name}: animated image; using its first frame only", AnimatedImageWarning)
        image.seek(0)
    image = _upright(image)
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _to_eight_bits(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        flat = Image.new("RGBA", image.size, (*background, 255))
        image = Image.alpha_composite(flat, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; a damaged EXIF block is ignored, as viewers do."""
    image.load()
    try:
        return ImageOps.exif_transpose(image)
    except (ValueError, TypeError, KeyError, IndexError, struct.error, SyntaxError, OSError):
        return image


def _to_eight_bits(image: Image.Image) -> Image.Image:
    """16-bit grey (PNG) to 8-bit, rounding v * 255 / 65535; Pillow's own convert clips at 255."""
    wide = np.asarray(image).astype(np.int32).clip(0, 65535)  # "I" is signed 32-bit
    return Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8), "L")
