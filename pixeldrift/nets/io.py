"""Saving and loading network weights as safetensors, atomically and strictly.

Saving writes a temporary file in the destination folder, fsyncs it and renames
it over the target, so a crash never leaves a half-written weights file.
Loading checks the file's header against the module first (missing, unexpected,
wrongly shaped and wrongly typed tensors are all named in one error, and every
size in the header against the file's own size) and only then reads and copies
the weights in, so a module is never left half-loaded and a hostile header costs
no memory.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors_file
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from pixeldrift.atomic_write import write_bytes_atomically  # a stdlib-only leaf
from pixeldrift.bounded_files import BadFileError, regular_file  # a stdlib-only leaf

_LISTED = 8  # how many offending keys an error message names before "and N more"
MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit
MAX_TENSORS = 100_000           # SDXL in one file has ~2,500; a header of a million costs gigabytes to parse
MAX_DIMS = 8
# bytes per element of every safetensors dtype, and the torch dtype it reads as
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
          "C64": torch.complex64}
# what a floating-point weight may be stored as: float8, integers, bools and complex numbers would be
# cast silently into something else
WEIGHT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


class WeightsError(BadFileError):
    """A weights file that cannot be loaded into a module: corrupt, or not matching it."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as a safetensors header describes it, checked against the file."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    def meta(self) -> torch.Tensor:
        """A tensor of this shape and dtype that holds no memory, for shape checks before reading."""
        return torch.empty(self.shape, dtype=DTYPES[self.dtype], device="meta")


def read_header(path: str | Path) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """The tensors and metadata a safetensors header lists, every size checked against the file first.

    WeightsError naming the file (and the tensor) otherwise: a truncated download, a
    header over MAX_HEADER_BYTES or with over MAX_TENSORS entries, offsets that do not
    add up. Nothing but the header is read.
    """
    path = Path(path)
    try:
        size = regular_file(path, what="safetensors file")
    except BadFileError as error:
        _fail(path, str(error).removeprefix(f"{path}: "))
    raw = _header_bytes(path, size)
    if raw.count(b'"data_offsets"') > MAX_TENSORS:
        _fail(path, f"the header lists over {MAX_TENSORS} tensors")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        _fail(path, f"the safetensors header is not valid JSON ({type(error).__name__})")
    if not isinstance(header, dict):
        _fail(path, "the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        _fail(path, "the header's __metadata__ is not an object of strings")
    data_bytes = size - 8 - len(raw)
    entries = {name: _entry(path, name, value) for name, value in header.items()}
    end = max((e.end for e in entries.values()), default=0)
    if end > data_bytes:
        _fail(path, f"the tensors need {end} bytes of data but the file holds {data_bytes}; the file is truncated")
    return entries, metadata


def _fail(path: Path, reason: str):
    raise WeightsError(f"{path}: {reason}", reason)


def _header_bytes(path: Path, size: int) -> bytes:
    if size < 8:
        _fail(path, f"{size} bytes is too short for a safetensors file")
    with open(path, "rb") as file:
        length = int.from_bytes(file.read(8), "little")
        if length > MAX_HEADER_BYTES:
            _fail(path, f"the header claims {length} bytes, over the {MAX_HEADER_BYTES}-byte limit; "
                        "this is not a safetensors file, or it is corrupt")
        if 8 + length > size:
            _fail(path, f"the header claims {length} bytes but only {size - 8} follow; "
                        "the file is truncated (an interrupted download?)")
        return file.read(length)


def _entry(path: Path, name: str, value) -> TensorEntry:
    """A header entry, or WeightsError: a known dtype, a shape of non-negative integers, and a byte
    range [start, end] exactly as long as that shape needs."""
    if not isinstance(value, dict) or not isinstance(value.get("dtype"), str) or value["dtype"] not in DTYPES:
        _fail(path, f"tensor {name[:200]!r}: no known dtype (accepted: {', '.join(DTYPES)})")
    shape, offsets = value.get("shape"), value.get("data_offsets")
    if not _integers(shape, MAX_DIMS):
        _fail(path, f"tensor {name[:200]!r}: shape {str(shape)[:80]} is not a list of at most {MAX_DIMS} "
                    "non-negative integers")
    if not _integers(offsets, 2) or len(offsets) != 2 or offsets[0] > offsets[1]:
        _fail(path, f"tensor {name[:200]!r}: data_offsets {str(offsets)[:80]} is not [start, end]")
    count = math.prod(shape) * DTYPES[value["dtype"]].itemsize
    if offsets[1] - offsets[0] != count:
        _fail(path, f"tensor {name[:200]!r}: {value['dtype']} {shape} needs {count} bytes, "
                    f"data_offsets give {offsets[1] - offsets[0]}")
    return TensorEntry(value["dtype"], tuple(shape), offsets[0], offsets[1])


def _integers(value, most: int) -> bool:
    return isinstance(value, list) and len(value) <= most and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def header_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A weights file's tensors as meta tensors: names, shapes and dtypes, read from the header alone."""
    entries, _ = read_header(path)
    return {name: entry.meta() for name, entry in entries.items()}


def save_weights(module: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save `module.state_dict()` to a .safetensors file (CPU copies, so tied tensors are fine)."""
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in module.state_dict().items()}
    write_bytes_atomically(path, save_safetensors_bytes(tensors, metadata=metadata), make_parents=True)


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read every tensor of a safetensors file, or raise WeightsError naming the file and the problem."""
    path = Path(path)
    try:
        read_header(path)
        return load_safetensors_file(path)
    except WeightsError as err:
        raise WeightsError(f"{path} is not a readable safetensors file: {err.reason}", err.reason) from None
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file: {err}") from err


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load a safetensors file into `module`, all or nothing; names, shapes and dtypes are checked on the
    header before any tensor is read, so a file of the wrong size costs nothing."""
    try:
        found = header_state(path)
    except WeightsError as err:
        raise WeightsError(f"{path} is not a readable safetensors file: {err.reason}", err.reason) from None
    problems = describe_mismatch(module.state_dict(), found)
    if problems:
        raise WeightsError(f"{path} does not match {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(read_weights(path), strict=True)


def describe_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between two state dicts: missing, unexpected, wrong shapes."""
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong_shape = [
        f"{k} {tuple(found[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in sorted(set(expected) & set(found))
        if found[k].shape != expected[k].shape
    ]
    wrong_dtype = [f"{k} {found[k].dtype} (weights must be float16, bfloat16, float32 or float64)"
                   for k in sorted(set(expected) & set(found))
                   if expected[k].dtype in WEIGHT_DTYPES and found[k].dtype not in WEIGHT_DTYPES]
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong_shape),
                         ("wrong dtypes", wrong_dtype)):
        if items:
            shown = ", ".join(items[:_LISTED])
            more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
            problems.append(f"{len(items)} {label}: {shown}{more}")
    return problems
