"""LoRA files for Stable Diffusion (Hu et al. 2021): which names a file may give each layer.

The layouts, their checks and the merging live in nets/lora_files.py; here each UNet and
text-encoder layer is named the ways shared files name it:

    kohya      lora_unet_<layer>, <layer> the diffusers or the original name, dots as "_";
               lora_te_ / lora_te1_ / lora_te2_ for the text encoders
    diffusers  unet.<layer>, text_encoder[_2].<layer>
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pixeldrift.nets.lora_files import (LoRAFileError, check_scale, check_size, deltas_for, group_factors,
                                        merge_deltas, unmerge_all)
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.original_names import original_unet_name
from pixeldrift.pretrained.weight_files import read_tensors


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


def lora_deltas(model, path: Path) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """{layer path: (layer, delta at scale 1)} for a LoRA file; CheckpointError if any part does not fit."""
    try:
        if path.is_file():
            check_size(model, path)
        groups = group_factors(read_tensors(path), path)
        return deltas_for(layer_names(model), groups, path, model.family.name)
    except LoRAFileError as error:
        raise CheckpointError(str(error)) from None


def apply_lora(model, path: str | Path, scale: float = 1.0) -> None:
    """Add a LoRA file's deltas, times `scale`, to the model's weights; nothing changes if it does not fit."""
    scale = check_scale(scale)
    path = Path(path)
    merge_deltas(model, lora_deltas(model, path), path, scale)


def unload_loras(model) -> None:
    """Put back the weights every applied LoRA changed, exactly as they were."""
    unmerge_all(model)
