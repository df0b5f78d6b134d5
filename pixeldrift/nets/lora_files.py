"""LoRA files (Hu et al. 2021): low-rank weight deltas W += scale * (alpha / r) * up @ down, read and written.

Two layouts are read, each a set of tensors per layer:

    kohya (sd-scripts, most shared files)  <prefix>_<layer>.lora_down.weight / .lora_up.weight / .alpha
                                           (what A1111 and ComfyUI load; <layer> is the layer's path, dots as "_")
    diffusers / PEFT                       <part>.<layer>.lora_A.weight / .lora_B.weight (or .lora.down/.up);
                                           alpha = r unless an .alpha is given

Files are written in the kohya layout. Which names a model's layers go by is the model's business
(pretrained/lora.py for Stable Diffusion, pipeline/adapter_files.py for ours); this module groups, checks
and merges. Merging is all or nothing: every delta is computed and checked against its layer before any
weight changes. The first LoRA that touches a layer keeps a copy of its weight, so unloading restores
the original bit for bit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import BadFileError
from pixeldrift.nets.io import WEIGHT_DTYPES, read_header, read_weights
from pixeldrift.nets.lora import LoRALayer, low_rank_delta

# suffix of a tensor name -> which factor it is
FACTOR_SUFFIXES = {".lora_down.weight": "down", ".lora_up.weight": "up", ".lora_A.weight": "down",
                   ".lora_B.weight": "up", ".lora.down.weight": "down", ".lora.up.weight": "up", ".alpha": "alpha"}
MAX_SCALE = 10.0
_LISTED = 5

Layers = dict[str, tuple[str, nn.Module]]  # name a file may use -> (the layer's own path, the layer)


class LoRAFileError(BadFileError):
    """A LoRA file that cannot be used: the message names the file and the problem."""


def group_factors(tensors: dict[str, torch.Tensor], path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """{layer name in the file: {"down", "up", "alpha"}}, every factor checked; LoRAFileError otherwise."""
    groups, unknown = {}, []
    for key, value in tensors.items():
        for suffix, factor in FACTOR_SUFFIXES.items():
            if key.endswith(suffix):
                groups.setdefault(key[: -len(suffix)], {})[factor] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise LoRAFileError(f"{path}: {len(unknown)} tensors are not LoRA up/down/alpha weights "
                            f"(e.g. {', '.join(unknown[:_LISTED])}); LoCon/LoHa/LoKr/DoRA files are not supported")
    if not groups:
        raise LoRAFileError(f"{path}: holds no LoRA weights")
    incomplete = [name for name, g in groups.items() if "down" not in g or "up" not in g]
    if incomplete:
        raise LoRAFileError(f"{path}: {len(incomplete)} layers lack an up or down matrix "
                            f"(e.g. {', '.join(incomplete[:_LISTED])})")
    groups = {name.removeprefix("base_model.model."): g for name, g in groups.items()}
    _check_factors(groups, path)
    return groups


def _check_factors(groups: dict[str, dict[str, torch.Tensor]], path: Path) -> None:
    """LoRAFileError for factors no LoRA has: rank 0, a non-float dtype, an alpha that is not one
    finite number (each would divide by zero, or be cast or broadcast silently)."""
    for name, factors in groups.items():
        wrong = [f"{kind} is {t.dtype}" for kind, t in factors.items() if t.dtype not in WEIGHT_DTYPES]
        if wrong:
            raise LoRAFileError(f"{path}: layer {name}: {', '.join(wrong)}; LoRA factors must be float16, "
                                "bfloat16, float32 or float64")
        if factors["down"].ndim < 1 or factors["down"].shape[0] == 0:
            raise LoRAFileError(f"{path}: layer {name}: rank 0 (down is {tuple(factors['down'].shape)})")
        alpha = factors.get("alpha")
        if alpha is not None and (alpha.numel() != 1 or not math.isfinite(float(alpha))):
            raise LoRAFileError(f"{path}: layer {name}: alpha must be one finite number, "
                                f"got shape {tuple(alpha.shape)}")


def _delta(factors: dict[str, torch.Tensor], weight: torch.Tensor) -> torch.Tensor | None:
    """(alpha / r) up @ down in the layer's shape, float32; None when the shapes cannot give that shape."""
    down, up = factors["down"], factors["up"]
    if down.ndim < 2 or up.ndim < 2:
        return None
    rank = down.shape[0]
    if up.shape[0] != weight.shape[0] or up.flatten(1).shape[1] != rank or \
            down.flatten(1).shape[1] * weight.shape[0] != weight.numel():
        return None
    alpha = float(factors["alpha"]) if "alpha" in factors else float(rank)
    return low_rank_delta(down, up, alpha, weight.shape)


def check_size(model: nn.Module, path: Path) -> None:
    """A LoRA holds low-rank factors: a file larger than the weights of the model it changes is not
    one, and is refused before it is read."""
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    size = path.stat().st_size
    if size > model_bytes:
        raise LoRAFileError(f"{path}: {size} bytes, larger than the {model_bytes}-byte model it would change; "
                            "not a LoRA")


def deltas_for(layers: Layers, groups: dict[str, dict[str, torch.Tensor]], path: Path,
               model_name: str) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """{layer path: (layer, delta at scale 1)}; LoRAFileError if any layer is unknown or does not fit."""
    missing = [name for name in groups if name not in layers]
    if missing:
        raise LoRAFileError(f"{path}: {len(missing)} of its {len(groups)} layers are not in this "
                            f"{model_name} model (e.g. {', '.join(missing[:_LISTED])}); "
                            "is the LoRA for another model family?")
    deltas, wrong = {}, []
    for name, factors in groups.items():
        layer_path, layer = layers[name]
        delta = _delta(factors, layer.weight)
        if delta is None:
            wrong.append(f"{name} {tuple(factors['up'].shape)} x {tuple(factors['down'].shape)} "
                         f"for weight {tuple(layer.weight.shape)}")
        else:
            deltas[layer_path] = (layer, deltas[layer_path][1] + delta if layer_path in deltas else delta)
    if wrong:
        raise LoRAFileError(f"{path}: {len(wrong)} LoRA layers do not fit this {model_name} model's "
                            f"shapes (e.g. {'; '.join(wrong[:_LISTED])}); is it for another model family?")
    return deltas


def check_scale(scale) -> float:
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not -MAX_SCALE <= scale <= MAX_SCALE:
        raise ValueError(f"LoRA scale must be a number from -{MAX_SCALE:g} to {MAX_SCALE:g}, got {scale!r}")
    return float(scale)


@torch.no_grad()
def merge_deltas(model, deltas: dict[str, tuple[nn.Module, torch.Tensor]], path: Path, scale: float) -> None:
    """Add each delta times `scale` to its layer's weight; `model._lora_originals` keeps each layer's
    weight from before its first LoRA and `model.loras` records (path, scale)."""
    originals = model._lora_originals
    for layer_path, (layer, delta) in deltas.items():
        if layer_path not in originals:
            originals[layer_path] = (layer, layer.weight.detach().clone())
        layer.weight.add_((delta * scale).to(layer.weight.device, layer.weight.dtype))
    model.loras.append((path, scale))


@torch.no_grad()
def unmerge_all(model) -> None:
    """Put back the weights every merged LoRA changed, exactly as they were."""
    for layer, original in model._lora_originals.values():
        layer.weight.copy_(original)
    model._lora_originals.clear()
    model.loras.clear()


def read_lora_file(path: Path, model: nn.Module) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, str]]:
    """The factor groups and the header metadata of a .safetensors LoRA file for `model`, everything
    checked (size against the model's first); LoRAFileError naming the file otherwise."""
    if path.suffix.lower() != ".safetensors":
        raise LoRAFileError(f"{path}: a LoRA file must be .safetensors (pickles are never loaded)")
    try:
        _, metadata = read_header(path)
        check_size(model, path)
        tensors = read_weights(path)
    except LoRAFileError:
        raise
    except BadFileError as error:
        raise LoRAFileError(str(error)) from None
    return group_factors(tensors, path), metadata


def kohya_tensors(layers: dict[str, LoRALayer]) -> dict[str, torch.Tensor]:
    """{file name of a layer: its LoRALayer} -> the kohya tensors: name.lora_down.weight, .lora_up.weight
    and .alpha (a 0-d tensor), float32 on the CPU."""
    tensors = {}
    for name, layer in layers.items():
        tensors[f"{name}.lora_down.weight"] = layer.down.weight.detach().float().cpu().contiguous()
        tensors[f"{name}.lora_up.weight"] = layer.up.weight.detach().float().cpu().contiguous()
        tensors[f"{name}.alpha"] = torch.tensor(layer.alpha, dtype=torch.float32)
    return tensors


def write_lora_file(path: Path, tensors: dict[str, torch.Tensor], rank: int, alpha: float,
                    about: dict | None = None) -> Path:
    """Write `tensors` atomically, with kohya's ss_network_* metadata (which A1111 shows) and `about`
    (pixeldrift's record: base model, targets, how it was trained) as JSON."""
    metadata = {"ss_network_module": "networks.lora", "ss_network_dim": str(rank), "ss_network_alpha": f"{alpha:g}",
                "pixeldrift": json.dumps(about or {})}
    return write_bytes_atomically(path, save_safetensors_bytes(tensors, metadata=metadata), make_parents=True)
