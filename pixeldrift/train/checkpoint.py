"""Training checkpoints: one safetensors file, written atomically, holding everything a resume needs.

Tensors (weights, EMA, optimizer moments) are safetensors entries; everything
else (step, counters, optimizer hyper-parameters, the run's config) is JSON in
the file's metadata. Nothing is pickled, so loading a checkpoint runs no code.
Frozen parameters (a pretrained text encoder, the VAE of a latent model) are
left out: they never change, and a resume takes them from the model as built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import BadFileError, check_number
from pixeldrift.nets.io import read_header

META_KEY = "pixeldrift_training_state"


def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into named tensors and JSON-able rest."""
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, slots in state["state"].items():
        plain["state"][str(index)] = []
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value
                plain["state"][str(index)].append(name)
            else:
                raise ValueError(f"optimizer slot {name!r} is not a tensor; cannot store it without pickle")
    return tensors, plain


def unflatten_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict:
    state = {int(index): {name: tensors[f"optimizer.{index}.{name}"] for name in names}
             for index, names in plain["state"].items()}
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write to a temporary file beside `path`, fsync it, then rename over `path`."""
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    write_bytes_atomically(path, save(contiguous, metadata={META_KEY: json.dumps(meta)}), make_parents=True)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a checkpoint, both checked; BadFileError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BadFileError(f"no checkpoint at {path}")
    _, metadata = read_header(path)  # every size checked against the file before anything is read
    try:
        meta = json.loads(metadata[META_KEY])
    except KeyError:
        raise BadFileError(f"{path}: not a pixeldrift checkpoint (no {META_KEY} metadata)") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise BadFileError(f"{path}: the training state is not valid JSON ({type(error).__name__})") from None
    _check_meta(meta, path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise BadFileError(f"{path} is not a readable pixeldrift checkpoint: {error}") from None
    return tensors, meta


def _check_meta(meta, path: Path) -> None:
    """The training state a resume reads: counters that are non-negative integers and an optimizer
    description of the shape torch's own state_dict has."""
    if not isinstance(meta, dict):
        raise BadFileError(f"{path}: the training state is a {type(meta).__name__}, not an object")
    try:
        for key in ("step", "bad_steps"):
            check_number(meta.get(key), 0, 10**12, f"the training state's {key}")
    except ValueError as error:
        raise BadFileError(f"{path}: {error}") from None
    optimizer = meta.get("optimizer")
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("param_groups"), list) or \
            not isinstance(optimizer.get("state"), dict) or not all(
                isinstance(names, list) and all(isinstance(n, str) for n in names) and index.isdigit()
                for index, names in optimizer["state"].items()):
        raise BadFileError(f"{path}: the training state has no readable optimizer state")


def unflatten_checked(tensors: dict[str, torch.Tensor], plain: dict[str, Any], path: Path) -> dict:
    """unflatten_optimizer, with a missing optimizer tensor named as the checkpoint's problem."""
    try:
        return unflatten_optimizer(tensors, plain)
    except KeyError as error:
        raise BadFileError(f"{path}: the optimizer tensor {error} is missing") from None
