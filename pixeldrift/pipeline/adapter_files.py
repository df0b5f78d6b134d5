"""Personalisation files for pixeldrift's own models: LoRA files and textual-inversion embeddings.

A LoRA file (Hu et al. 2021) is a kohya-layout .safetensors (nets/lora_files.py), our layers named
the way kohya names Stable Diffusion's, so the same tools read it:

    lora_unet_<path in the denoiser network, dots as "_">.lora_down.weight / .lora_up.weight / .alpha
    lora_te_<path in the text encoder's network>...      (when the text encoder was adapted too)
    metadata: ss_network_dim / ss_network_alpha (kohya's), and "pixeldrift": the base model's name and
              denoiser SHA-256, the adapted layers, how it was trained

An embedding (Gal et al. 2023) is the .safetensors layout AUTOMATIC1111 writes: one tensor
"emb_params" of shape (vectors, width) and nothing else; its word is the "pixeldrift" metadata's
token, or (A1111's rule) the file's name. Ours hold one vector of the MiniLM encoder's width.

Loading merges a LoRA into the weights (no cost per step), all or nothing, and unloading restores
every weight bit for bit; an embedding adds its word to the tokenizer and its row to the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import BadFileError, regular_file
from pixeldrift.nets.io import WEIGHT_DTYPES, read_header, read_weights
from pixeldrift.nets.lora import lora_layers
from pixeldrift.nets.lora_files import (Layers, LoRAFileError, check_scale, deltas_for, kohya_tensors, merge_deltas,
                                        read_lora_file, unmerge_all, write_lora_file)
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder, check_new_word
from pixeldrift.pipeline.controlnet_folder import denoiser_fingerprint

UNET_PREFIX, TEXT_PREFIX = "lora_unet_", "lora_te_"
EMBEDDING_KEY = "emb_params"
MAX_EMBEDDING_BYTES = 1 << 20


def text_network(model) -> nn.Module:
    """The network inside the text encoder whose layers a LoRA may adapt (MiniLM's BERT, or our own)."""
    encoder = model.text_encoder
    return encoder.model if isinstance(encoder, MiniLMTextEncoder) else encoder


def layer_names(model) -> Layers:
    """Every name a LoRA file may use for a layer of `model` -> (the layer's path in the model, the layer):
    kohya's lora_unet_/lora_te_ names and PEFT's unet./text_encoder. ones."""
    names = {}
    for prefix, peft, root, path in ((UNET_PREFIX, "unet", model.denoiser.net, "denoiser.net"),
                                     (TEXT_PREFIX, "text_encoder", text_network(model), "text_encoder")):
        for name, module in root.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                names[prefix + name.replace(".", "_")] = names[f"{peft}.{name}"] = (f"{path}.{name}", module)
    return names


def base_of(model) -> dict:
    """What a personalisation file records about the model it was trained on."""
    return {"name": model.name, "denoiser_sha256": denoiser_fingerprint(model)}


def save_lora(model, path: str | Path, base: dict, about: dict | None = None) -> Path:
    """Write the LoRA layers injected into `model` (nets/lora.py add_lora) as a kohya-layout file; `base`
    is base_of(the model before the layers were added)."""
    named = {}
    for prefix, root in ((UNET_PREFIX, model.denoiser.net), (TEXT_PREFIX, text_network(model))):
        named.update({prefix + name.replace(".", "_"): layer for name, layer in lora_layers(root).items()})
    if not named:
        raise ValueError("the model holds no LoRA layers to save")
    first = next(iter(named.values()))
    return write_lora_file(Path(path), kohya_tensors(named), first.rank, first.alpha,
                           {"base": base, "layers": len(named), **(about or {})})


def load_lora(model, path: str | Path, scale: float = 1.0) -> None:
    """Merge a LoRA file, times `scale`, into `model`'s weights; nothing changes if any part does not fit."""
    scale, path = check_scale(scale), Path(path)
    groups, _ = read_lora_file(path, model)
    merge_deltas(model, deltas_for(layer_names(model), groups, path, "pixeldrift"), path, scale)


def unload_loras(model) -> None:
    """Every weight a LoRA changed back as it was, exactly."""
    unmerge_all(model)


def lora_about(path: str | Path) -> dict:
    """The "pixeldrift" record in a LoRA file's metadata ({} for files written elsewhere)."""
    _, metadata = read_header(Path(path))
    try:
        about = json.loads(metadata.get("pixeldrift", "{}"))
    except json.JSONDecodeError:
        raise LoRAFileError(f"{path}: its pixeldrift metadata is not JSON") from None
    return about if isinstance(about, dict) else {}


# --- textual inversion ----------------------------------------------------------------------

def save_embedding(path: str | Path, token: str, vector: torch.Tensor, about: dict | None = None) -> Path:
    """Write one token's embedding (width,) in A1111's safetensors layout, the token in the metadata."""
    return write_embedding_tensors(path, {EMBEDDING_KEY: vector.reshape(1, -1)}, {"token": token, **(about or {})})


def write_embedding_tensors(path: str | Path, tensors: dict[str, torch.Tensor], about: dict) -> Path:
    """An embedding file: `tensors` as float32 safetensors, `about` as the "pixeldrift" metadata."""
    tensors = {key: value.detach().float().cpu().contiguous() for key, value in tensors.items()}
    metadata = {"pixeldrift": json.dumps(about)}
    return write_bytes_atomically(Path(path), save_safetensors_bytes(tensors, metadata=metadata), make_parents=True)


def read_embedding(path: str | Path) -> tuple[str, torch.Tensor]:
    """(word, vector) of an embedding file; BadFileError naming it unless it holds exactly one vector."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise BadFileError(f"{path}: an embedding must be a .safetensors file (A1111's .pt pickles are not loaded)")
    regular_file(path, MAX_EMBEDDING_BYTES, "embedding file")
    entries, metadata = read_header(path)
    if set(entries) != {EMBEDDING_KEY}:
        raise BadFileError(f"{path}: an embedding holds one tensor {EMBEDDING_KEY!r}, found "
                           f"{', '.join(sorted(entries)[:5]) or 'none'}")
    vector = read_weights(path)[EMBEDDING_KEY]
    if vector.ndim != 2 or vector.shape[0] != 1 or vector.dtype not in WEIGHT_DTYPES or \
            not torch.isfinite(vector).all():
        raise BadFileError(f"{path}: {EMBEDDING_KEY} must be one finite float vector (1, width), got "
                           f"{vector.dtype} {tuple(vector.shape)} (multi-vector embeddings are not supported)")
    try:
        token = json.loads(metadata.get("pixeldrift", "{}")).get("token") or path.stem
    except (json.JSONDecodeError, AttributeError):
        token = path.stem
    try:
        return check_new_word(token), vector[0].float()
    except ValueError as error:
        raise BadFileError(f"{path}: {error}") from None


def load_embedding(model, path: str | Path) -> str:
    """Add the file's word to `model`'s vocabulary with its embedding; returns the word."""
    token, vector = read_embedding(path)
    encoder = model.text_encoder
    if not isinstance(encoder, MiniLMTextEncoder):
        raise ValueError(f"{path}: embeddings need a model with the MiniLM text encoder; {model.name!r} has "
                         f"{type(encoder).__name__}")
    if vector.shape[0] != encoder.output_dim:
        raise BadFileError(f"{path}: a {vector.shape[0]}-wide embedding, the text encoder's tokens are "
                           f"{encoder.output_dim} wide (is it for Stable Diffusion?)")
    encoder.add_token(token, vector.to(model.device))
    encoder.model.embeddings.word.requires_grad_(False)
    return token


def unload_embeddings(model) -> None:
    """Every word an embedding added taken out again (a Stable Diffusion model's too)."""
    if isinstance(getattr(model, "text_encoder", None), MiniLMTextEncoder):
        model.text_encoder.remove_added_tokens()
    elif hasattr(model, "unload_embeddings"):
        model.unload_embeddings()
