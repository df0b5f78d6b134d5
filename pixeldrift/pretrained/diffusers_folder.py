"""Loading a model folder in the diffusers layout: model_index.json plus one subfolder per part.

    model_index.json            which parts exist and their classes
    unet/config.json            + diffusion_pytorch_model.safetensors (or sharded, with an .index.json)
    vae/config.json             + diffusion_pytorch_model.safetensors
    text_encoder[_2]/config.json + model.safetensors
    tokenizer[_2]/              vocab.json, merges.txt
    scheduler/scheduler_config.json

Configs are read with json and the weights with our own checks; nothing is
downloaded and no pipeline or scheduler object of diffusers is made.
"""

from __future__ import annotations

import json
from pathlib import Path

from pixeldrift.pretrained.components import (SDParts, build_text_encoder, build_unet, build_vae, load_strict,
                                              load_tokenizer)
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.families import folder_family
from pixeldrift.pretrained.weight_files import read_tensors

WEIGHT_NAMES = ("diffusion_pytorch_model", "model")


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: missing {path.name}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def is_diffusers_folder(folder: Path) -> bool:
    return (folder / "model_index.json").is_file()


def text_encoder_names(index: dict) -> list[str]:
    return [name for name in ("text_encoder", "text_encoder_2") if (index.get(name) or [None])[-1]]


def load_folder(folder: Path, family: str | None = None) -> SDParts:
    """Every part of a diffusers folder, checked; CheckpointError naming the file at the first problem."""
    index = read_json(folder / "model_index.json")
    names = text_encoder_names(index)
    if not index.get("unet") or not index.get("vae") or not names:
        raise CheckpointError(f"{folder}/model_index.json: not a Stable Diffusion model "
                              "(it needs a unet, a vae and a text_encoder)")
    scheduler = read_json(folder / "scheduler" / "scheduler_config.json")
    text_configs = [read_json(folder / name / "config.json") for name in names]
    found = folder_family(index, text_configs[0], scheduler, family, folder)
    unet = load_strict(build_unet(read_json(folder / "unet" / "config.json")), _weights(folder / "unet"),
                       str(folder / "unet"))
    vae = load_strict(build_vae(read_json(folder / "vae" / "config.json")), _weights(folder / "vae"),
                      str(folder / "vae"))
    encoders = [load_strict(build_text_encoder(index[name][1], config), _weights(folder / name), str(folder / name))
                for name, config in zip(names, text_configs)]
    tokenizers = [load_tokenizer(folder / name.replace("text_encoder", "tokenizer")) for name in names]
    options = {"force_zeros_for_empty_prompt": index.get("force_zeros_for_empty_prompt", found.base == "sdxl")}
    return SDParts(found, unet, vae, encoders, tokenizers, scheduler, folder, options)


def _weights(part: Path) -> dict:
    """The weights of one part: a safetensors file, shards listed in an index, or (warned) a pickle."""
    for stem in WEIGHT_NAMES:
        single = part / f"{stem}.safetensors"
        if single.is_file():
            return read_tensors(single)
        index = part / f"{stem}.safetensors.index.json"
        if index.is_file():
            shards = sorted(set(read_json(index).get("weight_map", {}).values()))
            tensors = {}
            for shard in shards:
                tensors.update(read_tensors(part / shard))
            return tensors
    for stem in WEIGHT_NAMES:
        if (part / f"{stem}.bin").is_file():
            return read_tensors(part / f"{stem}.bin")
    raise CheckpointError(f"{part}: no weights found (looked for diffusion_pytorch_model.safetensors, "
                          "model.safetensors and their sharded or .bin forms)")
