"""Loading a model folder in the diffusers layout: model_index.json plus one subfolder per part.

    model_index.json            which parts exist and their classes
    unet/config.json            + diffusion_pytorch_model.safetensors (or sharded, with an .index.json)
    vae/config.json             + diffusion_pytorch_model.safetensors
    text_encoder[_2]/config.json + model.safetensors
    tokenizer[_2]/              vocab.json + merges.txt, or tokenizer.json (transformers 5)
    scheduler/scheduler_config.json

Configs are read with json and the weights with our own checks; nothing is
downloaded and no pipeline or scheduler object of diffusers is made. Every file
is resolved first and must lie inside the folder (no symlink or index entry
leads out of it); every config's sizes are bounded, and each part's weights
headers are compared with the network built on the meta device before the real
network is built or any weight is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from pixeldrift.bounded_files import BadFileError, inside, read_json_object
from pixeldrift.pretrained.components import (SDParts, build_checked, build_on_meta, build_text_encoder, build_unet,
                                              build_vae, check_config, check_fits, load_strict, load_tokenizer)
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.families import folder_family
from pixeldrift.pretrained.weight_files import header_tensors, read_tensors

WEIGHT_NAMES = ("diffusion_pytorch_model", "model")
MAX_SHARDS = 1000


def read_json(path: Path, root: Path | None = None) -> dict:
    """A JSON object from a file inside `root` (default: the file's folder), bounded in size."""
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: missing {path.name}")
    try:
        inside(root or path.parent, path)
        return read_json_object(path)
    except BadFileError as error:
        raise CheckpointError(str(error)) from None


def read_config(path: Path, root: Path) -> dict:
    """A part's config.json, inside the model folder, with every size it gives bounded."""
    return check_config(read_json(path, root), path)


def containment_root(folder: Path) -> Path:
    """The folder every file of a model must resolve into: the model folder itself, or for a snapshot in
    the Hugging Face cache (models--ORG--NAME/snapshots/REV, whose files are symlinks to ../../blobs)
    the cache entry of that model."""
    folder = Path(folder).absolute()
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent
    return folder


def is_diffusers_folder(folder: Path) -> bool:
    return (folder / "model_index.json").is_file()


def component_class(index: dict, name: str, path: Path) -> str | None:
    """The class model_index.json names for a part (["library", "Class"]), None if it has none."""
    entry = index.get(name)
    if entry is None:
        return None
    if not isinstance(entry, list) or len(entry) != 2 or not all(v is None or isinstance(v, str) for v in entry):
        raise CheckpointError(f"{path}: entry {name!r} must be [library, class], got {str(entry)[:80]}")
    return entry[1]


def text_encoder_names(index: dict, path: Path) -> list[str]:
    return [name for name in ("text_encoder", "text_encoder_2") if component_class(index, name, path)]


def load_folder(folder: Path, family: str | None = None) -> SDParts:
    """Every part of a diffusers folder, checked; CheckpointError naming the file at the first problem."""
    index_path, root = folder / "model_index.json", containment_root(folder)
    index = read_json(index_path, root)
    names = text_encoder_names(index, index_path)
    if not component_class(index, "unet", index_path) or not component_class(index, "vae", index_path) or not names:
        raise CheckpointError(f"{index_path}: not a Stable Diffusion model (it needs a unet, a vae and a text_encoder)")
    scheduler = read_config(folder / "scheduler" / "scheduler_config.json", root)
    text_configs = [read_config(folder / name / "config.json", root) for name in names]
    found = folder_family(index, text_configs[0], scheduler, family, folder)
    unet = _part(folder, "unet", lambda: build_unet(read_config(folder / "unet" / "config.json", root)))
    vae = _part(folder, "vae", lambda: build_vae(read_config(folder / "vae" / "config.json", root)))
    encoders = [_part(folder, name, lambda c=config, n=name: build_text_encoder(component_class(index, n, index_path),
                                                                             c))
                for name, config in zip(names, text_configs)]
    tokenizers = [load_tokenizer(folder / name.replace("text_encoder", "tokenizer"), root=root) for name in names]
    options = {"force_zeros_for_empty_prompt": index.get("force_zeros_for_empty_prompt", found.base == "sdxl")}
    return SDParts(found, unet, vae, encoders, tokenizers, scheduler, folder, options)


def _part(folder: Path, name: str, build):
    return load_part(containment_root(folder), folder / name, build)


def load_part(root: Path, part: Path, build, pickles: bool = True):
    """One part's network from its folder's weights: built on the meta device, compared with the weights'
    headers, then built and loaded. `pickles=False` refuses a part that has only a .bin pickle."""
    source = str(part)
    files = weight_files(root, part)
    if files[0].suffix == ".bin" and not pickles:
        raise CheckpointError(f"{files[0]}: a pickle; only safetensors weights are read here "
                              "(convert it, or download the .safetensors version)")
    if files[0].suffix != ".bin":  # a pickle has no header to read first
        check_fits(build_on_meta(build, source), _merged(header_tensors, files), source)
    return load_strict(build_checked(build, source), _merged(read_tensors, files), source)


def _merged(read, files: list[Path]) -> dict:
    tensors = {}
    for path in files:
        tensors.update(read(path))
    return tensors


def weight_files(root: Path, part: Path) -> list[Path]:
    """The files holding a part's weights: one safetensors file, the shards its index lists, or (warned)
    a pickle; each resolved, and refused if it lies outside `root`."""
    for stem in WEIGHT_NAMES:
        single = part / f"{stem}.safetensors"
        if single.is_file():
            return [_inside(root, single)]
        index = part / f"{stem}.safetensors.index.json"
        if index.is_file():
            return [_inside(root, part / shard, f"{index} entry {key!r}")
                    for key, shard in _shards(read_json(index, root), index)]
    for stem in WEIGHT_NAMES:
        if (part / f"{stem}.bin").is_file():
            return [_inside(root, part / f"{stem}.bin")]
    raise CheckpointError(f"{part}: no weights found (looked for diffusion_pytorch_model.safetensors, "
                          "model.safetensors and their sharded or .bin forms)")


def _shards(index: dict, path: Path) -> list[tuple[str, str]]:
    """(first tensor, shard file) per shard of an index's weight_map, checked to be names of files."""
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{path}: weight_map must be an object of tensor name -> shard file")
    shards = {}
    for key, shard in weight_map.items():
        if not isinstance(shard, str) or not shard.endswith(".safetensors") or os.path.isabs(shard) or \
                os.path.normpath(shard).startswith(".."):
            raise CheckpointError(f"{path}: entry {key[:200]!r} names {str(shard)[:200]!r}, "
                                  "not a path to a .safetensors shard inside its folder")
        shards.setdefault(shard, key)
    if len(shards) > MAX_SHARDS:
        raise CheckpointError(f"{path}: {len(shards)} shards, over {MAX_SHARDS}")
    return [(key, shard) for shard, key in sorted(shards.items())]


def _inside(root: Path, path: Path, entry: str | None = None) -> Path:
    """`path` as given (errors name it so), after checking it resolves inside `root`."""
    try:
        inside(root, path, entry)
        return path
    except BadFileError as error:
        raise CheckpointError(str(error)) from None
