"""Images that arrive in requests: base64 text (JSON APIs) or multipart files (OpenAI edits).

Only the bytes sent are ever read: an http(s) URL, a file:// URL or a file path in an
image field is refused with a clear error, never fetched or opened.
"""

from __future__ import annotations

import base64
import binascii
import re

from PIL import Image

from pixeldrift.provenance.safe_image import ImageReadError, decode_image_bytes
from pixeldrift.server.errors import ApiError

_DATA_URL = re.compile(r"data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def decode_base64_image(text, field: str, max_bytes: int, max_pixels: int) -> Image.Image:
    """A base64 (or data: URL) image from a JSON field; ApiError 400 naming the field otherwise."""
    if not isinstance(text, str):
        raise ApiError(400, f"{field} must be a base64-encoded image (text), got {type(text).__name__}", field)
    text = text.strip()
    if _URL.match(text):
        raise ApiError(400, f"{field} is a URL; images are never fetched: send the image itself, base64-encoded",
                       field)
    match = _DATA_URL.match(text)
    payload = text[match.end():] if match else text
    if text.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        raise ApiError(400, f"{field} looks like a file path; files are never read from paths: send the image "
                            "itself, base64-encoded", field)
    if len(payload) > (max_bytes * 4) // 3 + 4:
        raise ApiError(413, f"{field}: image larger than {max_bytes} bytes", field)
    try:
        data = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(400, f"{field} is not valid base64 ({error})", field) from None
    return decode_image(data, field, max_bytes, max_pixels)


def decode_image(data: bytes, field: str, max_bytes: int, max_pixels: int) -> Image.Image:
    """Uploaded bytes as a PIL image; ApiError 400 (or 413 when too big) naming the field."""
    try:
        return decode_image_bytes(data, field, max_pixels=max_pixels, max_bytes=max_bytes)
    except ImageReadError as error:
        status = 413 if len(data) > max_bytes else 400
        raise ApiError(status, str(error), field) from None
