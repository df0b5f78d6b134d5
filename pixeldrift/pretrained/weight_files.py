"""Reading weight files safely: safetensors with its header checked first, pickles only as plain tensors.

A safetensors file starts with an 8-byte little-endian header length, then that
many bytes of JSON naming every tensor's dtype, shape and byte range. Checking
that header against the file's size before reading (nets/io.py) turns a
truncated download or a file that is not safetensors at all into one clear
sentence, and lets the header's shapes be compared with the model's before
anything is built or read.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from pixeldrift.bounded_files import BadFileError, regular_file
from pixeldrift.nets import io
from pixeldrift.pretrained.extra import CheckpointError

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


def read_header(path: Path) -> dict[str, io.TensorEntry]:
    """The tensors a safetensors header lists, after checking every size fits the file."""
    try:
        return io.read_header(path)[0]
    except BadFileError as error:
        raise CheckpointError(str(error)) from None


def header_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors as meta tensors (names, shapes, dtypes), from its header alone."""
    return {name: entry.meta() for name, entry in read_header(path).items()}


def tensor_names(path: Path) -> list[str]:
    return list(read_header(path))


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a weights file; safetensors preferred, pickles loaded as plain tensors only."""
    path = Path(path)
    try:
        regular_file(path, what="weights file")
    except BadFileError as error:
        raise CheckpointError(str(error)) from None
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
