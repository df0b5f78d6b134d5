"""Hostile files shared by the tests of issue 16 (provenance, world, fuzz): made here, never downloaded."""

from __future__ import annotations

import contextlib
import signal
import struct
import zlib

# An EPS file: Pillow would hand it to Ghostscript (an interpreter) if it were allowed to open it.
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nnewpath 0 0 moveto 16 16 lineto stroke\nshowpage\n"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png_header(width: int, height: int) -> bytes:
    """A few hundred bytes that claim width x height RGB pixels: guards must refuse before decoding."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b""))
            + png_chunk(b"IEND", b""))


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail (not hang) when the block runs longer than `seconds`; bounds are generous on purpose."""
    def expire(_signum, _frame):
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
