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

from pathlib import Path

import torch
from torch import nn

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
    rank = down.shape[0]
    if up.shape[0] != weight.shape[0] or up.flatten(1).shape[1] != rank or \
            down.flatten(1).shape[1] * weight.shape[0] != weight.numel():
        return None
    alpha = float(factors["alpha"]) if "alpha" in factors else float(rank)
    return (up.flatten(1) @ down.flatten(1)).reshape(weight.shape) * (alpha / rank)


def lora_deltas(model, path: Path) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """{layer path: (layer, delta at scale 1)} for a LoRA file; CheckpointError if any part does not fit."""
    groups = _group(read_tensors(path), path)
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
