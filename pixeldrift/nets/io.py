"""Saving and loading network weights as safetensors, atomically and strictly.

Saving writes a temporary file in the destination folder, fsyncs it and renames
it over the target, so a crash never leaves a half-written weights file.
Loading reads and checks the whole file against the module first (missing,
unexpected and wrongly shaped tensors are all named in one error) and only then
copies the weights in, so a module is never left half-loaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors_file
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from pixeldrift.atomic_write import write_bytes_atomically  # a stdlib-only leaf

_LISTED = 8  # how many offending keys an error message names before "and N more"


class WeightsError(ValueError):
    """A weights file that cannot be loaded into a module: corrupt, or not matching it."""


def save_weights(module: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save `module.state_dict()` to a .safetensors file (CPU copies, so tied tensors are fine)."""
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in module.state_dict().items()}
    write_bytes_atomically(path, save_safetensors_bytes(tensors, metadata=metadata), make_parents=True)


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read every tensor of a safetensors file, or raise WeightsError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return load_safetensors_file(path)
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file: {err}") from err


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load a safetensors file into `module`, all or nothing; dtypes are cast to the module's."""
    tensors = read_weights(path)
    problems = describe_mismatch(module.state_dict(), tensors)
    if problems:
        raise WeightsError(f"{path} does not match {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(tensors, strict=True)


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
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong_shape)):
        if items:
            shown = ", ".join(items[:_LISTED])
            more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
            problems.append(f"{len(items)} {label}: {shown}{more}")
    return problems
