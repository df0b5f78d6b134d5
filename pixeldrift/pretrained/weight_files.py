"""Reading weight files safely: safetensors with its header checked first, pickles only as plain tensors.

A safetensors file starts with an 8-byte little-endian header length, then that
many bytes of JSON naming every tensor's dtype, shape and byte range. Checking
that header against the file's size before reading turns a truncated download or
a file that is not safetensors at all into one clear sentence, instead of a
low-level error from deep inside the reader.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from pixeldrift.pretrained.extra import CheckpointError

MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


def read_header(path: Path) -> dict:
    """The parsed header of a safetensors file, after checking it fits the file."""
    size = path.stat().st_size
    if size < 8:
        raise CheckpointError(f"{path}: {size} bytes is too short for a safetensors file")
    with open(path, "rb") as file:
        length = int.from_bytes(file.read(8), "little")
        if length > MAX_HEADER_BYTES:
            raise CheckpointError(f"{path}: the header claims {length} bytes, over the {MAX_HEADER_BYTES}-byte "
                                  "limit; this is not a safetensors file, or it is corrupt")
        if 8 + length > size:
            raise CheckpointError(f"{path}: the header claims {length} bytes but only {size - 8} follow; "
                                  "the file is truncated (an interrupted download?)")
        raw = file.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: the safetensors header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the safetensors header is not a JSON object")
    _check_data_fits(path, header, size - 8 - length)
    return header


def _check_data_fits(path: Path, header: dict, data_bytes: int) -> None:
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    if ends and max(ends) > data_bytes:
        raise CheckpointError(f"{path}: the tensors need {max(ends)} bytes of data but the file holds "
                              f"{data_bytes}; the file is truncated")


def tensor_names(path: Path) -> list[str]:
    return [key for key in read_header(path) if key != "__metadata__"]


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a weights file; safetensors preferred, pickles loaded as plain tensors only."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return _read_pickle(path)
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(f"{path}: unknown weights format {path.suffix!r}; "
                              "give a .safetensors file (or a .ckpt/.pt, loaded as plain tensors)")
    read_header(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, ValueError, RuntimeError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True: tensors and plain containers, never code from the file."""
    warnings.warn(f"{path.name} is a pickle checkpoint; it is loaded as plain tensors only "
                  "(weights_only=True), but safetensors files are safer and faster to load", stacklevel=3)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle raises many kinds; all mean the same to the user
        raise CheckpointError(f"{path}: cannot be loaded as plain tensors ({type(error).__name__}: {error}); "
                              "convert it to safetensors") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]  # Lightning-style checkpoints wrap the weights
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: holds a {type(data).__name__}, not a dictionary of tensors")
    return {key: value for key, value in data.items() if isinstance(value, torch.Tensor)}
