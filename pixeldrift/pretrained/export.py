"""Writing a Stable Diffusion model (a DreamBooth fine-tune): a diffusers folder, or one file in the original layout.

    save_diffusers_folder   model_index.json, unet/, vae/, text_encoder[_2]/, tokenizer[_2]/, scheduler/
    save_single_file        NAME.safetensors: model.diffusion_model.*, first_stage_model.*, and the text
                            encoders as the original repositories name them: cond_stage_model.transformer.*
                            (SD 1.x, CLIP), cond_stage_model.model.* (SD 2.x, OpenCLIP) or
                            conditioner.embedders.0.transformer.* / .1.model.* (SDXL)

Both are safetensors only and open in pixeldrift's loader (open_model) and in diffusers (from_pretrained;
from_single_file with a config folder). A single file does not say whether an SD 2.x model predicts v:
the NAME.yaml A1111 reads beside it does, and is written for v models (an SD 1.x or SDXL v model is
refused: only a folder says so).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors_bytes

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.pretrained.original_names import (open_clip_tensors, original_unet_name, original_vae_tensors,
                                                  with_text_model_prefix)
from pixeldrift.pretrained.single_file import TEXT_PREFIXES

DEFAULT_SCHEDULER = "DPMSolverMultistepScheduler"  # what a model without a scheduler class samples with (dpmpp_2m)
V_YAML = 'model:\n  params:\n    parameterization: "v"\n'


def _check_plain(model) -> None:
    if model.prompt_encoder.added:
        raise ValueError(f"{model.name}: unload the embeddings before writing the model (their words are not part "
                         "of it)")


def save_diffusers_folder(model, folder: Path, about: dict | None = None) -> Path:
    """Write `model` as a diffusers folder; `about` (how it was made) goes to pixeldrift.json beside the parts."""
    import diffusers

    _check_plain(model)
    folder = Path(folder)
    xl = model.family.base == "sdxl"
    scheduler = {**model.scheduler_config, "_class_name": model.scheduler_config.get("_class_name",
                                                                                      DEFAULT_SCHEDULER)}
    index = {"_class_name": "StableDiffusionXLPipeline" if xl else "StableDiffusionPipeline",
             "_diffusers_version": diffusers.__version__, "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", scheduler["_class_name"]]}
    model.unet.save_pretrained(folder / "unet", safe_serialization=True)
    model.vae.save_pretrained(folder / "vae", safe_serialization=True)
    encoders = model.prompt_encoder
    for i, (encoder, tokenizer) in enumerate(zip(encoders.text_encoders, encoders.tokenizers)):
        suffix = "" if i == 0 else f"_{i + 1}"
        encoder.save_pretrained(folder / f"text_encoder{suffix}", safe_serialization=True)
        _save_tokenizer(tokenizer, folder / f"tokenizer{suffix}")
        index[f"text_encoder{suffix}"] = ["transformers", type(encoder).__name__]
        index[f"tokenizer{suffix}"] = ["transformers", "CLIPTokenizer"]
    if xl:
        index["force_zeros_for_empty_prompt"] = encoders.zero_empty_negative
    else:
        index.update(safety_checker=[None, None], feature_extractor=[None, None], requires_safety_checker=False)
    write_bytes_atomically(folder / "scheduler" / "scheduler_config.json", json.dumps(scheduler, indent=2).encode(),
                           make_parents=True)
    write_bytes_atomically(folder / "pixeldrift.json", json.dumps(about or {}, indent=2).encode())
    write_bytes_atomically(folder / "model_index.json", json.dumps(index, indent=2).encode())  # last: complete
    return folder


def _save_tokenizer(tokenizer, folder: Path) -> None:
    """The tokenizer's files, with vocab.json and merges.txt beside transformers 5's tokenizer.json (older
    transformers and diffusers read only those)."""
    tokenizer.save_pretrained(folder)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and not (folder / "vocab.json").exists():
        backend.model.save(str(folder))


def original_tensors(model) -> dict[str, torch.Tensor]:
    """Every weight of `model` under its name in the original single-file layout."""
    unet, vae = model.unet, model.vae
    tensors = {"model.diffusion_model." + original_unet_name(k, unet.config): v for k, v in unet.state_dict().items()}
    levels = len(vae.config.block_out_channels)
    tensors.update({"first_stage_model." + k: v for k, v in original_vae_tensors(vae.state_dict(), levels).items()})
    for encoder, (prefix, open_clip) in zip(model.prompt_encoder.text_encoders, TEXT_PREFIXES[model.family.base]):
        clip = with_text_model_prefix(encoder.state_dict())
        tensors.update(open_clip_tensors(clip, prefix) if open_clip else {prefix + k: v for k, v in clip.items()})
    return tensors


def save_single_file(model, path: Path, about: dict | None = None) -> Path:
    """Write `model` as one .safetensors file in the original layout (`about` in its "pixeldrift" metadata),
    with NAME.yaml beside it for an SD 2.x v model."""
    _check_plain(model)
    if model.family.prediction == "v_prediction" and model.family.base != "sd2":
        raise ValueError(f"{model.name}: a v-prediction {model.family.base} model cannot be one file (its layout "
                         "says eps); write a diffusers folder")
    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in original_tensors(model).items()}
    metadata = {"pixeldrift": json.dumps(about or {})}
    write_bytes_atomically(path, save_safetensors_bytes(tensors, metadata=metadata), make_parents=True)
    if model.family.name == "sd2-v":
        write_bytes_atomically(path.with_suffix(".yaml"), V_YAML.encode())
    return path
