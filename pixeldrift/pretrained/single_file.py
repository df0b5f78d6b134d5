"""Loading a single-file checkpoint (.safetensors, or a .ckpt as plain tensors) with the original key names.

The key names are those of the CompVis and Stability repositories
(model.diffusion_model.*, first_stage_model.*, cond_stage_model.* or
conditioner.embedders.*). diffusers' offline conversion functions rename them to
the diffusers layout; the architecture comes from `config` (a diffusers folder
of the same architecture, whose configs and tokenizers are used and whose
weights are not read) or else from the family's published architecture
(presets.py), with the CLIP tokenizer found locally (find_clip_tokenizer).
"""

from __future__ import annotations

import os
from pathlib import Path

from pixeldrift.pretrained.components import (SDParts, build_checked, build_on_meta, build_text_encoder, build_unet,
                                              build_vae, check_fits, load_strict, load_tokenizer)
from pixeldrift.pretrained.diffusers_folder import (component_class, containment_root, is_diffusers_folder,
                                                    read_config, read_json, text_encoder_names)
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.families import single_file_family
from pixeldrift.pretrained.presets import PRESETS
from pixeldrift.pretrained.weight_files import header_tensors, read_tensors

TOKENIZER_ENV = "PIXELDRIFT_CLIP_TOKENIZER"
# CLIP prefixes of the single-file layouts, per text encoder, and whether it is OpenCLIP
TEXT_PREFIXES = {"sd1": [("cond_stage_model.transformer.", False)],
                 "sd2": [("cond_stage_model.model.", True)],
                 "sdxl": [("conditioner.embedders.0.transformer.", False), ("conditioner.embedders.1.model.", True)]}


def load_single_file(path: Path, family: str | None = None, config: Path | None = None) -> SDParts:
    """A single file's parts. A safetensors file is first checked on its header alone: names and shapes,
    converted and compared with the networks built on the meta device, so a file that does not fit
    is refused before gigabytes of network are built or any weight is read."""
    header = header_tensors(path) if path.suffix.lower() == ".safetensors" else None
    found = single_file_family((header if header is not None else read_tensors(path)).keys(), path, family)
    architecture = _architecture_from_folder(config) if config is not None else _preset(found.name)
    if header is not None:
        _parts(header, architecture, found.base, path, build_on_meta, check_fits)
    unet, vae, encoders = _parts(read_tensors(path), architecture, found.base, path, build_checked, load_strict)
    scheduler = dict(architecture["scheduler"], prediction_type=found.prediction)
    options = {"force_zeros_for_empty_prompt": architecture.get("force_zeros", found.base == "sdxl")}
    return SDParts(found, unet, vae, encoders, architecture["tokenizers"], scheduler, path, options)


def _parts(tensors: dict, architecture: dict, base: str, path: Path, build, settle):
    """UNet, VAE and text encoders: each made by `build` (on meta, or for real) and given its converted
    tensors by `settle` (a check, or the strict load)."""
    from diffusers.loaders import single_file_utils as convert

    unet_config, vae_config = architecture["unet"], architecture["vae"]
    unet = _convert(lambda: convert.convert_ldm_unet_checkpoint(tensors, unet_config), path, "UNet")
    vae = _convert(lambda: convert.convert_ldm_vae_checkpoint(tensors, vae_config), path, "VAE")
    parts = [settle(build(lambda: build_unet(unet_config), f"{path} (UNet)"), unet, f"{path} (UNet)"),
             settle(build(lambda: build_vae(vae_config), f"{path} (VAE)"), vae, f"{path} (VAE)")]
    encoders = []
    for (class_name, text_config), (prefix, open_clip) in zip(architecture["text_encoders"], TEXT_PREFIXES[base]):
        source = f"{path} (text encoder {prefix}*)"
        model = build(lambda: build_text_encoder(class_name, text_config), source)
        if open_clip:
            weights = _convert(lambda: convert.convert_open_clip_checkpoint(model, tensors, prefix), path, prefix)
        else:
            weights = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        encoders.append(settle(model, weights, source))
    return parts[0], parts[1], encoders


def _convert(function, path: Path, part: str) -> dict:
    try:
        return function()
    except (KeyError, IndexError, AttributeError, RuntimeError) as error:
        raise CheckpointError(f"{path}: the {part} weights are incomplete or not in the original layout "
                              f"({type(error).__name__}: {error})") from None


def _architecture_from_folder(folder: Path) -> dict:
    """Configs and tokenizers of a diffusers folder, for a single file of the same architecture."""
    if not is_diffusers_folder(folder):
        raise CheckpointError(f"config {folder}: not a diffusers folder (no model_index.json)")
    index_path, root = folder / "model_index.json", containment_root(folder)
    index = read_json(index_path, root)
    names = text_encoder_names(index, index_path)
    scheduler = read_config(folder / "scheduler" / "scheduler_config.json", root)
    scheduler.pop("prediction_type", None)  # the file's family decides
    return {"unet": read_config(folder / "unet" / "config.json", root),
            "vae": read_config(folder / "vae" / "config.json", root),
            "text_encoders": [(component_class(index, name, index_path), read_config(folder / name / "config.json",
                                                                                    root)) for name in names],
            "tokenizers": [load_tokenizer(folder / name.replace("text_encoder", "tokenizer"), root=root)
                           for name in names],
            "scheduler": scheduler, "force_zeros": index.get("force_zeros_for_empty_prompt", len(names) == 2)}


def _preset(name: str) -> dict:
    preset = PRESETS[name]
    folder = find_clip_tokenizer()
    return {**preset, "tokenizers": [load_tokenizer(folder, pad) for pad in preset["pad_tokens"]]}


def find_clip_tokenizer() -> Path:
    """A local folder with CLIP's vocab.json and merges.txt (all SD text encoders share that vocabulary).

    Looked for in $PIXELDRIFT_CLIP_TOKENIZER, then in the Hugging Face cache
    (openai/clip-vit-large-patch14, as any earlier diffusers or transformers use leaves it).
    """
    candidates = [Path(os.environ[TOKENIZER_ENV])] if os.environ.get(TOKENIZER_ENV) else []
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache("openai/clip-vit-large-patch14", "vocab.json")
        if isinstance(cached, str):
            candidates.append(Path(cached).parent)
    except ImportError:
        pass
    for folder in candidates:
        if ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()) or \
                (folder / "tokenizer.json").is_file():
            return folder
    raise CheckpointError("a single-file checkpoint carries no tokenizer, and no CLIP tokenizer was found "
                          f"locally: set {TOKENIZER_ENV} to a folder with CLIP's vocab.json and merges.txt (or "
                          "tokenizer.json), "
                          "or pass config= a diffusers folder of the same model family")
