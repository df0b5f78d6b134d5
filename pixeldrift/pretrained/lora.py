"""LoRA files (Hu et al. 2021): low-rank weight deltas W += scale * (alpha / r) * up @ down.

Two layouts are read, each a set of tensors per layer:

    kohya (sd-scripts, most shared files)  lora_unet_<layer>.lora_down.weight / .lora_up.weight / .alpha
                                           lora_te_ / lora_te1_ / lora_te2_ for the text encoders;
                                           <layer> is the diffusers or the original name, dots as "_"
    diffusers / PEFT                       unet.<layer>.lora_A.weight / .lora_B.weight (or .lora.down/.up),
                                           text_encoder[_2].<layer>...; alpha = r unless an .alpha is given

Applying is all or nothing: every delta is computed and checked against its
layer before any weight changes. The first LoRA that touches a layer keeps a
copy of its weight, so unloading restores the original bit for bit.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from pixeldrift.nets.io import WEIGHT_DTYPES
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.original_names import original_unet_name
from pixeldrift.pretrained.weight_files import read_tensors

# suffix of a tensor name -> which factor it is
_FACTORS = {".lora_down.weight": "down", ".lora_up.weight": "up", ".lora_A.weight": "down",
            ".lora_B.weight": "up", ".lora.down.weight": "down", ".lora.up.weight": "up", ".alpha": "alpha"}
_LISTED = 5


def layer_names(model) -> dict[str, tuple[str, nn.Module]]:
    """Every name a LoRA file may use for a layer of `model` -> (the layer's own path, the layer)."""
    names = {}
    config = model.unet.config
    for name, module in model.unet.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            path = f"unet.{name}"
            names[f"lora_unet_{name.replace('.', '_')}"] = names[path] = (path, module)
            try:
                names[f"lora_unet_{original_unet_name(name, config).replace('.', '_')}"] = (path, module)
            except KeyError:
                pass  # a layer without an original name cannot be named that way
    encoders = model.prompt_encoder.text_encoders
    kohya = [["lora_te_", "lora_te1_"], ["lora_te2_"]]
    for index, encoder in enumerate(encoders):
        peft = "text_encoder" if index == 0 else "text_encoder_2"
        for name, module in encoder.named_modules():
            if isinstance(module, nn.Linear):
                canonical = name if name.startswith(("text_model.", "text_projection")) else f"text_model.{name}"
                path = f"{peft}.{name}"
                names[f"{peft}.{canonical}"] = (path, module)
                for prefix in kohya[index] if len(encoders) > 1 else kohya[0]:
                    names[prefix + canonical.replace(".", "_")] = (path, module)
    return names


def _group(tensors: dict[str, torch.Tensor], path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """{layer name in the file: {"down", "up", "alpha"}}; CheckpointError for tensors of no known kind."""
    groups, unknown = {}, []
    for key, value in tensors.items():
        for suffix, factor in _FACTORS.items():
            if key.endswith(suffix):
                groups.setdefault(key[: -len(suffix)], {})[factor] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{path}: {len(unknown)} tensors are not LoRA up/down/alpha weights "
                              f"(e.g. {', '.join(unknown[:_LISTED])}); LoCon/LoHa/LoKr/DoRA files are not supported")
    if not groups:
        raise CheckpointError(f"{path}: holds no LoRA weights")
    incomplete = [name for name, g in groups.items() if "down" not in g or "up" not in g]
    if incomplete:
        raise CheckpointError(f"{path}: {len(incomplete)} layers lack an up or down matrix "
                              f"(e.g. {', '.join(incomplete[:_LISTED])})")
    return {name.removeprefix("base_model.model."): g for name, g in groups.items()}


def _delta(factors: dict[str, torch.Tensor], weight: torch.Tensor) -> torch.Tensor | None:
    """(alpha / r) up @ down in the layer's shape, float32; None when the shapes cannot give that shape."""
    down, up = factors["down"].float(), factors["up"].float()
    if down.ndim < 2 or up.ndim < 2:
        return None
    rank = down.shape[0]
    if up.shape[0] != weight.shape[0] or up.flatten(1).shape[1] != rank or \
            down.flatten(1).shape[1] * weight.shape[0] != weight.numel():
        return None
    alpha = float(factors["alpha"]) if "alpha" in factors else float(rank)
    return (up.flatten(1) @ down.flatten(1)).reshape(weight.shape) * (alpha / rank)


def _check_factors(groups: dict[str, dict[str, torch.Tensor]], path: Path) -> None:
    """CheckpointError for factors no LoRA has: rank 0, a non-float dtype, an alpha that is not one
    finite number (each would divide by zero, or be cast or broadcast silently)."""
    for name, factors in groups.items():
        wrong = [f"{kind} is {t.dtype}" for kind, t in factors.items() if t.dtype not in WEIGHT_DTYPES]
        if wrong:
            raise CheckpointError(f"{path}: layer {name}: {', '.join(wrong)}; LoRA factors must be float16, "
                                  "bfloat16, float32 or float64")
        if factors["down"].ndim < 1 or factors["down"].shape[0] == 0:
            raise CheckpointError(f"{path}: layer {name}: rank 0 (down is {tuple(factors['down'].shape)})")
        alpha = factors.get("alpha")
        if alpha is not None and (alpha.numel() != 1 or not math.isfinite(float(alpha))):
            raise CheckpointError(f"{path}: layer {name}: alpha must be one finite number, "
                                  f"got shape {tuple(alpha.shape)}")


def _check_size(model, path: Path) -> None:
    """A LoRA holds low-rank factors: a file larger than the weights of the model it changes is not
    one, and is refused before it is read."""
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    size = path.stat().st_size
    if size > model_bytes:
        raise CheckpointError(f"{path}: {size} bytes, larger than the {model_bytes}-byte model it would change; "
                              "not a LoRA")


def lora_deltas(model, path: Path) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """{layer path: (layer, delta at scale 1)} for a LoRA file; CheckpointError if any part does not fit."""
    if path.is_file():
        _check_size(model, path)
    groups = _group(read_tensors(path), path)
    _check_factors(groups, path)
    names = layer_names(model)
    missing = [name for name in groups if name not in names]
    if missing:
        raise CheckpointError(f"{path}: {len(missing)} of its {len(groups)} layers are not in this "
                              f"{model.family.name} model (e.g. {', '.join(missing[:_LISTED])}); "
                              "is the LoRA for another model family?")
    deltas, wrong = {}, []
    for name, factors in groups.items():
        layer_path, layer = names[name]
        delta = _delta(factors, layer.weight)
        if delta is None:
            wrong.append(f"{name} {tuple(factors['up'].shape)} x {tuple(factors['down'].shape)} "
                         f"for weight {tuple(layer.weight.shape)}")
        else:
            deltas[layer_path] = (layer, deltas[layer_path][1] + delta if layer_path in deltas else delta)
    if wrong:
        raise CheckpointError(f"{path}: {len(wrong)} LoRA layers do not fit this {model.family.name} model's "
                              f"shapes (e.g. {'; '.join(wrong[:_LISTED])}); is it for another model family?")
    return deltas


@torch.no_grad()
def apply_lora(model, path: str | Path, scale: float = 1.0) -> None:
    """Add a LoRA file's deltas, times `scale`, to the model's weights; nothing changes if it does not fit."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not -10 <= scale <= 10:
        raise ValueError(f"LoRA scale must be a number from -10 to 10, got {scale!r}")
    path = Path(path)
    deltas = lora_deltas(model, path)
    originals = model._lora_originals
    for layer_path, (layer, delta) in deltas.items():
        if layer_path not in originals:
            originals[layer_path] = (layer, layer.weight.detach().clone())
        layer.weight.add_((delta * scale).to(layer.weight.device, layer.weight.dtype))
    model.loras.append((path, float(scale)))


@torch.no_grad()
def unload_loras(model) -> None:
    """Put back the weights every applied LoRA changed, exactly as they were."""
    for layer, original in model._lora_originals.values():
        layer.weight.copy_(original)
    model._lora_originals.clear()
    model.loras.clear()
