"""Training checkpoints: one safetensors file, written atomically, holding everything a resume needs.

Tensors (weights, EMA, optimizer moments) are safetensors entries; everything
else (step, counters, optimizer hyper-parameters, the run's config) is JSON in
the file's metadata. Nothing is pickled, so loading a checkpoint runs no code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from pixeldrift.atomic_write import write_bytes_atomically

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
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {})[META_KEY])
    except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as error:
        raise ValueError(f"{path} is not a readable pixeldrift checkpoint: {error}") from None
    return tensors, meta
