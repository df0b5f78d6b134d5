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

from pixeldrift.bounded_files import BadFileError, check_number, inside, regular_file
from pixeldrift.nets.io import describe_mismatch
from pixeldrift.nets.registry import MAX_PARAMETERS
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.pretrained.families import Family

TEXT_ENCODER_CLASSES = ("CLIPTextModel", "CLIPTextModelWithProjection")
# Bounds on the sizes a diffusers or transformers config may give, checked before anything is built:
# ten times and more past SDXL's, far below what would exhaust memory while building.
CONFIG_BOUNDS = {"layers_per_block": (1, 16), "transformer_layers_per_block": (0, 64),
                 "block_out_channels": (1, 8192), "attention_head_dim": (1, 4096), "num_attention_heads": (1, 4096),
                 "cross_attention_dim": (1, 8192), "in_channels": (1, 64), "out_channels": (1, 64),
                 "latent_channels": (1, 64), "norm_num_groups": (1, 1024), "sample_size": (1, 4096),
                 "addition_time_embed_dim": (1, 8192), "projection_class_embeddings_input_dim": (1, 65536),
                 "vocab_size": (1, 1_000_000), "hidden_size": (1, 8192), "intermediate_size": (1, 65536),
                 "num_hidden_layers": (1, 128), "max_position_embeddings": (1, 4096), "projection_dim": (1, 8192),
                 "num_train_timesteps": (1, 100_000), "steps_offset": (0, 1000),
                 "conditioning_channels": (1, 64), "conditioning_embedding_out_channels": (1, 8192)}
FLOAT_BOUNDS = {"scaling_factor": (1e-6, 1e6), "beta_start": (1e-9, 1.0), "beta_end": (1e-9, 1.0)}
MAX_LIST = 16  # entries of a per-level list (block_out_channels, down_block_types ...)
BUILD_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, ZeroDivisionError, RuntimeError,
                AssertionError, OverflowError)
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json")
MAX_TOKENIZER_BYTES = 64 << 20


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


def check_config(config: dict, path) -> dict:
    """`config` after checking every size it gives is within CONFIG_BOUNDS; CheckpointError naming the file."""
    try:
        for key, value in config.items():
            if isinstance(value, list) and len(value) > MAX_LIST and key != "trained_betas":
                raise ValueError(f"{key} lists {len(value)} entries, over {MAX_LIST}")
            if key in CONFIG_BOUNDS or key in FLOAT_BOUNDS:
                low, high = CONFIG_BOUNDS.get(key) or FLOAT_BOUNDS[key]
                for number in _numbers(value, key):
                    check_number(number, low, high, key, integer=key in CONFIG_BOUNDS)
        for beta in config.get("trained_betas") or []:
            check_number(beta, 1e-9, 1.0, "each of trained_betas", integer=False)
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None
    return config


def _numbers(value, key: str) -> list:
    """A size, or the sizes of a per-level list (one level of nesting: SDXL's per-block layer counts)."""
    if not isinstance(value, list):
        return [] if value is None else [value]
    flat = [v for item in value for v in (item if isinstance(item, list) else [item]) if v is not None]
    if len(flat) > MAX_LIST * MAX_LIST:
        raise ValueError(f"{key} lists too many entries")
    return flat


def build_on_meta(build, source: str) -> nn.Module:
    """The module `build()` makes, on the meta device (shapes, no memory), after checking its size.

    Every weights file is compared with it before the real network is built, so a
    file that does not fit costs a header read, not the whole network's memory.
    """
    with torch.device("meta"):
        module = build_checked(build, source)
    count = sum(p.numel() for p in module.parameters())
    if count > MAX_PARAMETERS:
        raise CheckpointError(f"{source}: its config describes {count:.3g} parameters, "
                              f"over the {MAX_PARAMETERS:.0e} this loader accepts")
    return module


def build_checked(build, source: str) -> nn.Module:
    """`build()`, with the errors a third-party constructor raises on a strange config named as the file's."""
    try:
        return build()
    except CheckpointError:
        raise
    except BUILD_ERRORS as error:
        raise CheckpointError(f"{source}: cannot build the network its config describes "
                              f"({type(error).__name__}: {str(error)[:300]})") from None


def check_fits(module: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The tensors `module` will take from `tensors` (meta or real), or CheckpointError naming every
    missing, unexpected, wrongly shaped or typed one."""
    expected = module.state_dict()
    tensors = _without_unused(_align_text_model_prefix(tensors, expected), module)
    problems = describe_mismatch(expected, tensors)
    if problems:
        raise CheckpointError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    return tensors


def load_strict(module: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Copy `tensors` into `module` after checking they match exactly; CheckpointError naming `source` if not."""
    module.load_state_dict(check_fits(module, tensors, source), strict=True)
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


def load_tokenizer(folder: Path, pad_token: str | None = None, root: Path | None = None):
    """A CLIP tokenizer from a folder with vocab.json and merges.txt, or with the tokenizer.json that
    transformers 5 writes instead (no network). Every file it may read must lie inside `root` (None: a
    folder the user named as trusted, such as $PIXELDRIFT_CLIP_TOKENIZER or the Hugging Face cache)."""
    from transformers import CLIPTokenizer

    has_files = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    if not has_files and not (folder / "tokenizer.json").is_file():
        raise CheckpointError(f"{folder}: no CLIP tokenizer here (vocab.json and merges.txt, or tokenizer.json, "
                              "are needed)")
    _check_tokenizer_files(folder, root)
    options = {} if pad_token is None else {"pad_token": pad_token}
    try:
        return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True, **options)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise CheckpointError(f"{folder}: the CLIP tokenizer cannot be read ({error})") from None
    except Exception as error:  # the Rust tokenizers library raises its own exception type on a bad tokenizer.json
        raise CheckpointError(f"{folder}: the CLIP tokenizer cannot be read ({type(error).__name__}: "
                              f"{str(error)[:300]})") from None


def _check_tokenizer_files(folder: Path, root: Path | None) -> None:
    """Each file the tokenizer reads: inside the model folder, regular, and of a bounded size."""
    try:
        for name in TOKENIZER_FILES:
            if (folder / name).exists() or (folder / name).is_symlink():
                if root is not None:
                    inside(root, folder / name)
                regular_file(folder / name, MAX_TOKENIZER_BYTES, "tokenizer file")
    except BadFileError as error:
        raise CheckpointError(str(error)) from None
