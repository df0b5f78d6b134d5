"""Reading files a user or an attacker hands us: inside their folder, regular, and small enough, first.

A leaf module (standard library only) that every room may import. Each check
runs before any work on the file, so a hostile file costs a stat call, not
memory or time: a symlink or index entry pointing out of a model folder, a
FIFO that would block `open` forever, or a 500 MB config.json.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: real config.json files are a few KB


class BadFileError(ValueError):
    """A file that cannot be used; the message names the file and the problem."""


def inside(root: str | os.PathLike, path: str | os.PathLike, entry: str | None = None) -> Path:
    """`path` with symlinks resolved, or BadFileError if that lands outside `root`.

    `entry` names what pointed there (an index entry, a metadata line) for the message.
    """
    path, root = Path(path), Path(root)
    resolved, base = path.resolve(), root.resolve()
    if resolved != base and base not in resolved.parents:
        via = f" (named by {entry})" if entry else ""
        raise BadFileError(f"{path}{via}: resolves to {resolved}, outside the folder {root}; "
                           "a model or data folder may only use files inside itself")
    return resolved


def regular_file(path: str | os.PathLike, max_bytes: int | None = None, what: str = "file") -> int:
    """The size of `path` after checking it is a regular file (not a FIFO, device or folder) of at most
    `max_bytes`; BadFileError otherwise. stat() never blocks, where open() on a FIFO would."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise BadFileError(f"{path}: no such {what}") from None
    except OSError as error:
        raise BadFileError(f"{path}: cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, socket or device?)"
        raise BadFileError(f"{path}: is {kind}, expected a {what}")
    if max_bytes is not None and info.st_size > max_bytes:
        raise BadFileError(f"{path}: {info.st_size} bytes, over the {max_bytes}-byte limit for a {what}")
    return info.st_size


def read_json_object(path: str | os.PathLike, max_bytes: int = MAX_CONFIG_BYTES) -> dict:
    """A JSON object from a small regular file, or BadFileError naming the file and what is wrong."""
    regular_file(path, max_bytes, "JSON file")
    try:
        with open(path, "rb") as file:
            data = json.loads(file.read(max_bytes + 1).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadFileError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise BadFileError(f"{path}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise BadFileError(f"{path}: expected a JSON object, found a {type(data).__name__}")
    return data


def check_number(value, low: float, high: float, where: str, integer: bool = True) -> None:
    """ValueError unless `value` is a finite number (an int if `integer`) from `low` to `high`."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{where} must be {kind} from {low:g} to {high:g}, got {value!r}")
