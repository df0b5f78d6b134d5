"""Tiny random Stable Diffusion models, built with diffusers and transformers and saved as diffusers folders.

They have the real architectures (UNet2DConditionModel, AutoencoderKL, CLIP text
models) at toy widths, so every code path a real checkpoint takes is exercised in
well under a second per image. The CLIP tokenizer gets a tiny vocabulary written
here: the 512 byte-level base symbols, a few merges, and the two special tokens.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

SCHEDULER = {"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "steps_offset": 1,
             "set_alpha_to_one": False, "skip_prk_steps": True, "clip_sample": False}
MERGES = ["a t</w>", "c at</w>", "r e", "o n</w>", "t h", "th e</w>", "i n", "in g</w>", "e d</w>", "o g</w>"]


def final_pixels(model, request) -> torch.Tensor:
    """A pipeline's image in [0, 1] as floats, taken where the VAE decodes, before rounding to 8 bits."""
    decode, seen = model.latents_to_pixels, []
    model.latents_to_pixels = lambda latents: seen.append(decode(latents)) or seen[-1]
    try:
        model.sample([request.prompt], [request.seed], request)
    finally:
        del model.latents_to_pixels
    return (seen[-1] / 2 + 0.5).clamp(0, 1)


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins for bytes that byte-level BPE (GPT-2, CLIP) uses."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    symbols, extra = {}, 0
    for b in range(256):
        if b in keep:
            symbols[b] = chr(b)
        else:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def write_tokenizer(folder: Path, pad_token: str = "<|endoftext|>") -> int:
    """A CLIP tokenizer folder with a tiny vocabulary; returns the vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    base = _byte_symbols()
    tokens = base + [s + "</w>" for s in base] + ["".join(m.split()) for m in MERGES] + \
        ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": pad_token}), encoding="utf-8")
    return len(vocab)


def _text_config(vocab_size: int, **overrides):
    from transformers import CLIPTextConfig

    settings = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=3,
                    num_attention_heads=4, max_position_embeddings=77, projection_dim=32, hidden_act="gelu",
                    bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1)
    settings.update(overrides)
    return CLIPTextConfig(**settings)


def _vae(seed: int):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 64), latent_channels=4,
                         layers_per_block=1, norm_num_groups=32, sample_size=32)


def _unet(seed: int, **overrides):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    settings = dict(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
                    block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                    attention_head_dim=8, norm_num_groups=32)
    settings.update(overrides)
    return UNet2DConditionModel(**settings)


def _save(folder: Path, index: dict, parts: dict, scheduler: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, module in parts.items():
        module.save_pretrained(folder / name, safe_serialization=True)
    (folder / "scheduler").mkdir(exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler), encoding="utf-8")
    (folder / "model_index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


def make_sd1(folder: Path, seed: int = 0, prediction_type: str = "epsilon") -> Path:
    """A tiny SD 1.x-style model (v-prediction when asked: the SD 2.x-v convention)."""
    from transformers import CLIPTextModel

    vocab_size = write_tokenizer(folder / "tokenizer")
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(_text_config(vocab_size))
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
             "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
             "scheduler": ["diffusers", "PNDMScheduler"], "safety_checker": [None, None],
             "feature_extractor": [None, None], "requires_safety_checker": False}
    scheduler = dict(SCHEDULER, prediction_type=prediction_type)
    return _save(folder, index, {"text_encoder": text_encoder, "unet": _unet(seed), "vae": _vae(seed + 2)},
                 scheduler)


def make_sdxl(folder: Path, seed: int = 0) -> Path:
    """A tiny SDXL-style model: two text encoders, pooled embeddings, size and crop conditioning."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    vocab_size = write_tokenizer(folder / "tokenizer")
    write_tokenizer(folder / "tokenizer_2", pad_token="!")
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(_text_config(vocab_size, hidden_size=16, num_attention_heads=2))
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(vocab_size, projection_dim=24))
    unet = _unet(seed, cross_attention_dim=48, addition_embed_type="text_time", addition_time_embed_dim=8,
                 projection_class_embeddings_input_dim=24 + 6 * 8, transformer_layers_per_block=(1, 2),
                 attention_head_dim=(2, 4), use_linear_projection=True, sample_size=32)
    index = {"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.42.1",
             "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers",
                                                                                   "CLIPTextModelWithProjection"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
             "scheduler": ["diffusers", "EulerDiscreteScheduler"], "force_zeros_for_empty_prompt": True}
    scheduler = dict(SCHEDULER, _class_name="EulerDiscreteScheduler", timestep_spacing="leading")
    return _save(folder, index, {"text_encoder": text_encoder, "text_encoder_2": text_encoder_2, "unet": unet,
                                 "vae": _vae(seed + 2)}, scheduler)


# ----- the same model as one file with the original key names -----------------------------

def to_single_file(folder: Path, path: Path) -> Path:
    """Write a tiny diffusers folder as one safetensors file with the original (CompVis / SGM) key names."""
    from safetensors.torch import load_file, save_file

    from pixeldrift.pretrained.original_names import (open_clip_tensors, original_unet_name, original_vae_tensors,
                                                      with_text_model_prefix)

    unet_config = json.loads((folder / "unet" / "config.json").read_text())
    vae_levels = len(json.loads((folder / "vae" / "config.json").read_text())["block_out_channels"])
    tensors = {}
    for key, value in load_file(folder / "unet" / "diffusion_pytorch_model.safetensors").items():
        tensors["model.diffusion_model." + original_unet_name(key, unet_config)] = value
    vae = original_vae_tensors(load_file(folder / "vae" / "diffusion_pytorch_model.safetensors"), vae_levels)
    tensors.update({"first_stage_model." + k: v for k, v in vae.items()})
    if (folder / "text_encoder_2").is_dir():
        clip = with_text_model_prefix(load_file(folder / "text_encoder" / "model.safetensors"))
        tensors.update({"conditioner.embedders.0.transformer." + k: v for k, v in clip.items()})
        tensors.update(open_clip_tensors(with_text_model_prefix(load_file(folder / "text_encoder_2" /
                                                                          "model.safetensors")),
                                         "conditioner.embedders.1.model."))
    else:
        clip = with_text_model_prefix(load_file(folder / "text_encoder" / "model.safetensors"))
        tensors.update({"cond_stage_model.transformer." + k: v for k, v in clip.items()})
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    return path


# ----- ControlNets (Zhang, Rao & Agrawala 2023) for those models ------------------------------

def make_controlnet(folder: Path, base: Path, seed: int = 0) -> Path:
    """A tiny random ControlNet for the model in `base`, saved as a diffusers folder.

    Its hint encoder halves the control image once, as the tiny VAE does. The zero
    convolutions are drawn at random too: a ControlNet fresh from training's start adds
    nothing, and a comparison with it would prove nothing.
    """
    from diffusers import ControlNetModel, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(base / "unet")
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32),
                                           load_weights_from_unet=False)
    for name, parameter in controlnet.named_parameters():
        if name.startswith(("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")):
            torch.nn.init.normal_(parameter, std=0.3)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def original_controlnet_name(name: str, config: dict) -> str:
    """The original (lllyasviel/ControlNet) name of a diffusers ControlNetModel tensor, control_model.* included."""
    from pixeldrift.pretrained.original_names import original_unet_name

    # conv_in, two per level after the first, conv_out
    hint_convs = 2 * len(config["conditioning_embedding_out_channels"])
    added = [("controlnet_cond_embedding.conv_in.", "input_hint_block.0."),
             ("controlnet_cond_embedding.conv_out.", f"input_hint_block.{2 * (hint_convs - 1)}."),
             ("controlnet_mid_block.", "middle_block_out.0.")]
    for new, old in added:
        if name.startswith(new):
            return "control_model." + old + name[len(new):]
    match = re.match(r"^controlnet_cond_embedding\.blocks\.(\d+)\.(.*)$", name)
    if match:
        return f"control_model.input_hint_block.{2 * (int(match.group(1)) + 1)}.{match.group(2)}"
    match = re.match(r"^controlnet_down_blocks\.(\d+)\.(.*)$", name)
    if match:
        return f"control_model.zero_convs.{match.group(1)}.0.{match.group(2)}"
    return "control_model." + original_unet_name(name, config)


def controlnet_single_file(folder: Path, path: Path, original_names: bool = True) -> Path:
    """A tiny ControlNet folder as one safetensors file, with the original names (or diffusers' as they are)."""
    from safetensors.torch import load_file, save_file

    config = json.loads((folder / "config.json").read_text())
    tensors = load_file(folder / "diffusion_pytorch_model.safetensors")
    if original_names:
        tensors = {original_controlnet_name(k, config): v for k, v in tensors.items()}
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    return path
