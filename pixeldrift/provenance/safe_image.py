"""Opening untrusted image files with clear errors and a decompression-bomb guard."""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 64_000_000       # 8000 x 8000: far above anything we make, far below a bomb
MAX_FILE_BYTES = 512 << 20


class ImageReadError(ValueError):
    """The file cannot be read as an image; the message names the file and the reason."""


def load_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Pixels of an image file as RGB uint8 (H, W, 3); raises ImageReadError with the reason."""
    name = os.fspath(path)
    try:
        if os.path.getsize(name) > MAX_FILE_BYTES:
            raise ImageReadError(f"{name}: file larger than {MAX_FILE_BYTES >> 20} MiB")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(name) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageReadError(f"{name}: {width}x{height} image has {width * height} pixels, "
                                         f"more than the {max_pixels} allowed (decompression-bomb guard)")
                return np.asarray(image.convert("RGB"))
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(f"{name}: refused as a possible decompression bomb ({error})") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image file Pillow can read") from None
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{name}: is a folder, not an image file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"{name}: damaged or truncated image ({error})") from None
