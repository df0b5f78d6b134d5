"""The parts of a Stable Diffusion model, built from configs and filled with weights, all or nothing.

The networks are diffusers' UNet2DConditionModel and AutoencoderKL and
transformers' CLIP text models, built from their configs and then loaded with
our own strict check, so a file that does not fit names every missing,
unexpected or wrongly shaped tensor instead of leaving layers at random values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pixeldrift.nets.io import describe_mismatch
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.families import Family

TEXT_ENCODER_CLASSES = ("CLIPTextModel", "CLIPTextModelWithProjection")


@dataclass
class SDParts:
    """Everything a StableDiffusion pipeline is made of, loaded and checked."""

    family: Family
    unet: nn.Module
    vae: nn.Module
    text_encoders: list[nn.Module]
    tokenizers: list
    scheduler: dict                      # the diffusers scheduler config: betas, spacing, offset
    source: Path
    options: dict = field(default_factory=dict)  # e.g. force_zeros_for_empty_prompt from model_index.json


def build_unet(config: dict) -> nn.Module:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_config(config)


def build_vae(config: dict) -> nn.Module:
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_config(config)


def build_text_encoder(class_name: str, config: dict) -> nn.Module:
    import transformers

    if class_name not in TEXT_ENCODER_CLASSES:
        raise CheckpointError(f"text encoder class {class_name!r} is not supported; "
                              f"expected one of {', '.join(TEXT_ENCODER_CLASSES)}")
    settings = {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures",
                                                                                        "model_type")}
    return getattr(transformers, class_name)(transformers.CLIPTextConfig(**settings))


def load_strict(module: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Copy `tensors` into `module` after checking they match exactly; CheckpointError naming `source` if not."""
    expected = module.state_dict()
    tensors = _without_unused(_align_text_model_prefix(tensors, expected), module)
    problems = describe_mismatch(expected, tensors)
    if problems:
        raise CheckpointError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(tensors, strict=True)
    return module.eval().requires_grad_(False)


def _align_text_model_prefix(tensors: dict, expected: dict) -> dict:
    """CLIPTextModel's keys start with `text_model.` in transformers 4 files and not in transformers 5's
    module; checkpoints of either kind load into either."""
    prefix = "text_model."
    wants = any(k.startswith(prefix) for k in expected)
    has = any(k.startswith(prefix) for k in tensors)
    if wants == has:
        return tensors
    if has:
        return {k.removeprefix(prefix): v for k, v in tensors.items()}
    return {k if k.startswith("text_projection") else prefix + k: v for k, v in tensors.items()}


_LAYER = re.compile(r"\.layers\.(\d+)\.")


def _without_unused(tensors: dict[str, torch.Tensor], module: nn.Module) -> dict[str, torch.Tensor]:
    """Drop what a checkpoint may carry but the module never uses.

    CLIP's position_ids buffer and logit_scale; text-encoder layers past the ones
    the config keeps (SD 2.x and SDXL read a middle layer); the projection of a
    text encoder used without one.
    """
    config = getattr(module, "config", None)
    layers = getattr(config, "num_hidden_layers", None)
    expected = module.state_dict().keys()
    kept = {}
    for key, value in tensors.items():
        if key.endswith(("position_ids", "logit_scale")) and key not in expected:
            continue
        if key == "text_projection.weight" and key not in expected:
            continue
        match = _LAYER.search(key)
        if layers is not None and "text_model" in key and match and int(match.group(1)) >= layers:
            continue
        kept[key] = value
    return kept


def load_tokenizer(folder: Path, pad_token: str | None = None):
    """A CLIP tokenizer from a folder with vocab.json and merges.txt (no network)."""
    from transformers import CLIPTokenizer

    if not (folder / "vocab.json").is_file() or not (folder / "merges.txt").is_file():
        raise CheckpointError(f"{folder}: no CLIP tokenizer here (vocab.json and merges.txt are needed)")
    options = {} if pad_token is None else {"pad_token": pad_token}
    try:
        return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True, **options)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{folder}: the CLIP tokenizer cannot be read ({error})") from None
