"""A strict, bounded reader for the chunks of a PNG file (ISO/IEC 15948, section 5).

It reads metadata without decoding pixels, so it is safe on hostile files: every length is
checked against what is left of the file, CRCs are verified, compressed text is inflated
with a size cap, and anything odd becomes a warning or a :class:`PngFormatError` naming
the problem, never an unhandled exception.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_BYTES = 1 << 20          # a metadata text larger than 1 MiB is not ours and not useful
MAX_CHUNKS = 10_000


class PngFormatError(ValueError):
    """The bytes are not a readable PNG; the message says what is wrong and where."""


@dataclass
class PngChunk:
    kind: str
    offset: int
    data: bytes
    crc_ok: bool


@dataclass
class PngText:
    """Text chunks (tEXt, zTXt, iTXt) by keyword, the image size, and any problems met."""

    width: int
    height: int
    texts: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    chunk_kinds: list[str] = field(default_factory=list)


def iter_chunks(data: bytes) -> list[PngChunk]:
    """All chunks up to IEND; raises PngFormatError on a bad signature or a truncated chunk."""
    if not data.startswith(PNG_SIGNATURE):
        raise PngFormatError("not a PNG file (the 8-byte PNG signature is missing)")
    chunks, offset = [], len(PNG_SIGNATURE)
    while True:
        if offset + 8 > len(data):
            raise PngFormatError(f"truncated PNG: chunk header expected at byte {offset}, file ends at {len(data)}")
        length, raw_kind = struct.unpack(">I4s", data[offset:offset + 8])
        if not raw_kind.isalpha():
            raise PngFormatError(f"malformed chunk type {raw_kind!r} at byte {offset}")
        end = offset + 12 + length
        if end > len(data):
            raise PngFormatError(f"truncated PNG: chunk {raw_kind.decode()} at byte {offset} claims "
                                 f"{length} bytes but only {len(data) - offset - 12} remain")
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        chunks.append(PngChunk(raw_kind.decode(), offset, body, zlib.crc32(raw_kind + body) == crc))
        offset = end
        if raw_kind == b"IEND":
            return chunks
        if len(chunks) >= MAX_CHUNKS:
            raise PngFormatError(f"more than {MAX_CHUNKS} chunks: refusing to read further")


def _inflate(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(payload, MAX_TEXT_BYTES + 1)
    if len(out) > MAX_TEXT_BYTES:
        raise PngFormatError(f"compressed text inflates beyond {MAX_TEXT_BYTES} bytes")
    return out


def decode_text_chunk(chunk: PngChunk) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk; PngFormatError if malformed."""
    keyword, sep, rest = chunk.data.partition(b"\0")
    if not sep or not 1 <= len(keyword) <= 79:
        raise PngFormatError(f"{chunk.kind} at byte {chunk.offset}: keyword missing or longer than 79 bytes")
    name = keyword.decode("latin-1")
    if len(rest) > MAX_TEXT_BYTES:
        raise PngFormatError(f"{chunk.kind} {name!r} at byte {chunk.offset} holds {len(rest)} bytes, "
                             f"more than the {MAX_TEXT_BYTES} read")
    try:
        if chunk.kind == "tEXt":
            return name, rest.decode("latin-1")
        if chunk.kind == "zTXt":
            return name, _inflate(rest[1:]).decode("latin-1")
        compressed, _method = rest[0], rest[1]
        _language, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return name, (_inflate(text) if compressed else text).decode("utf-8")
    except (IndexError, zlib.error, UnicodeDecodeError) as error:
        raise PngFormatError(f"{chunk.kind} {name!r} at byte {chunk.offset} is malformed: {error}") from None


def read_png_text(data: bytes) -> PngText:
    """Image size and text chunks of a PNG; problems in single chunks become warnings."""
    chunks = iter_chunks(data)
    if not chunks or chunks[0].kind != "IHDR" or len(chunks[0].data) != 13:
        raise PngFormatError("PNG does not start with a valid IHDR chunk")
    width, height = struct.unpack(">II", chunks[0].data[:8])
    result = PngText(width, height, chunk_kinds=[c.kind for c in chunks])
    for chunk in chunks:
        if not chunk.crc_ok:
            result.warnings.append(f"chunk {chunk.kind} at byte {chunk.offset} has a wrong CRC (damaged or edited)")
        if chunk.kind not in ("tEXt", "zTXt", "iTXt"):
            continue
        try:
            name, text = decode_text_chunk(chunk)
        except PngFormatError as error:
            result.warnings.append(str(error))
            continue
        if name in result.texts:
            result.warnings.append(f"text keyword {name!r} appears more than once; the first is shown")
        else:
            result.texts[name] = text
    return result
