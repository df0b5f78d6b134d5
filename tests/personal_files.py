"""Personalisation files for tests: a LoRA of random factors for any pixeldrift model."""

from __future__ import annotations

import torch

from pixeldrift.nets.lora import add_lora, attention_projections
from pixeldrift.pipeline import load_model
from pixeldrift.pipeline.adapter_files import base_of, save_lora


def lora_file(folder, out_dir, scale_up=0.3, name="style"):
    """A LoRA of random factors on the denoiser's attention projections of the model in `folder` (None: the
    default model), written to out_dir/NAME.safetensors; returns (its path, the adapted model, its layers)."""
    model = load_model(folder)
    base = base_of(model)
    layers = add_lora(model.denoiser.net, attention_projections(model.denoiser.net), rank=2, alpha=1.0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in layers.values():
            layer.up.weight.copy_(torch.randn(layer.up.weight.shape, generator=generator) * scale_up)
    return save_lora(model, out_dir / f"{name}.safetensors", base, {"method": "test"}), model, layers
