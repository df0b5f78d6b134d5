"""UNet, VAE and text-encoder names in the original (CompVis / Stability) layout, from diffusers' and
transformers' names (the reverse of what diffusers' single-file conversion reads; export.py writes them).

Single files and many LoRA files (kohya's for SDXL) name UNet layers the original
way: input_blocks.N / middle_block.N / output_blocks.N, with ResNet parts called
in_layers, emb_layers, out_layers. With L = layers_per_block, level b's layer j is

    down_blocks.b.resnets.j / attentions.j   input_blocks.(1 + b (L + 1) + j).0 / .1
    down_blocks.b.downsamplers.0.conv        input_blocks.((b + 1)(L + 1)).0.op
    mid_block.resnets.0 / attentions.0 / resnets.1   middle_block.0 / 1 / 2
    up_blocks.b.resnets.j / attentions.j     output_blocks.(b (L + 1) + j).0 / .1
    up_blocks.b.upsamplers.0.conv            output_blocks.(b (L + 1) + L).1 (or .2 after an attention).conv

The VAE's levels are down.N / up.N (the decoder's counted from the bottom), its ResNets block.j, its
middle mid.block_1 / attn_1 / block_2; OpenCLIP text encoders (SD 2.x, SDXL's second) fuse q, k and v
into in_proj and name layers transformer.resblocks.N.
"""

from __future__ import annotations

import re

import torch

_TOP = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
        "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2"}
_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_BLOCK = re.compile(r"^(down_blocks|up_blocks|mid_block)\.(?:(\d+)\.)?(resnets|attentions|downsamplers|upsamplers)"
                    r"\.(\d+)\.(.*)$")


def original_unet_name(name: str, config) -> str:
    """The original name of a diffusers UNet parameter or layer (e.g. 'down_blocks.1.attentions.0.proj_in')."""
    for new, old in _TOP.items():
        if name == new or name.startswith(new + "."):
            return old + name[len(new):]
    match = _BLOCK.match(name)
    if match is None:
        raise KeyError(f"no original name for UNet layer {name!r}")
    kind, level, part, index, rest = match.groups()
    per_level = config["layers_per_block"] + 1
    level, index = int(level or 0), int(index)
    if part == "resnets":
        rest = _resnet_part(rest)
    if kind == "mid_block":
        return f"middle_block.{2 * index if part == 'resnets' else 1}.{rest}"
    if kind == "down_blocks":
        if part == "downsamplers":
            return f"input_blocks.{(level + 1) * per_level}.0.op.{rest.removeprefix('conv.')}"
        return f"input_blocks.{1 + level * per_level + index}.{0 if part == 'resnets' else 1}.{rest}"
    if part == "upsamplers":
        has_attention = "CrossAttn" in config["up_block_types"][level]
        return f"output_blocks.{level * per_level + per_level - 1}.{2 if has_attention else 1}.{rest}"
    return f"output_blocks.{level * per_level + index}.{0 if part == 'resnets' else 1}.{rest}"


def _resnet_part(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return _RESNET.get(head, head) + ("." + tail if tail else "")


_VAE_RESNET = re.compile(r"^(encoder|decoder)\.(down|up)_blocks\.(\d+)\.(resnets|downsamplers|upsamplers)"
                         r"\.(\d+)\.(.*)$")
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def original_vae_name(key: str, levels: int) -> str:
    """The original name of a diffusers AutoencoderKL tensor of `levels` levels."""
    for side in ("encoder", "decoder"):
        key = key.replace(f"{side}.conv_norm_out", f"{side}.norm_out")
        key = key.replace(f"{side}.mid_block.resnets.0.", f"{side}.mid.block_1.")
        key = key.replace(f"{side}.mid_block.resnets.1.", f"{side}.mid.block_2.")
        if f"{side}.mid_block.attentions.0." in key:
            key = key.replace(f"{side}.mid_block.attentions.0.", f"{side}.mid.attn_1.")
            for new, old in _VAE_ATTENTION.items():
                key = key.replace(f"attn_1.{new}.", f"attn_1.{old}.")
    match = _VAE_RESNET.match(key)
    if match:
        side, direction, level, part, index, rest = match.groups()
        level = int(level) if side == "encoder" else levels - 1 - int(level)  # the decoder counts upwards
        if part == "resnets":
            return f"{side}.{direction}.{level}.block.{index}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
        return f"{side}.{direction}.{level}.{'downsample' if direction == 'down' else 'upsample'}.{rest}"
    return key.replace("conv_shortcut", "nin_shortcut")


def original_vae_tensors(tensors: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    """A VAE's tensors by their original names; the middle attention's projections as 1x1 convolutions."""
    out = {}
    for key, value in tensors.items():
        name = original_vae_name(key, levels)
        out[name] = value[:, :, None, None] if ".attn_1." in name and value.ndim == 2 else value
    return out


def with_text_model_prefix(tensors: dict) -> dict:
    """Original files name CLIP weights text_model.*; transformers 5 saves CLIPTextModel without the prefix."""
    return {k if k.startswith(("text_model.", "text_projection")) else "text_model." + k: v
            for k, v in tensors.items()}


def open_clip_tensors(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A transformers CLIP text model's tensors (text_model.* names) in OpenCLIP's: fused q/k/v, resblocks,
    ln_final, the projection transposed; each name after `prefix`."""
    out = {}
    for key, value in tensors.items():
        name = key.replace("text_model.encoder.layers.", "transformer.resblocks.").replace(".self_attn.", ".attn.")
        name = name.replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
        name = name.replace(".mlp.fc1.", ".mlp.c_fc.").replace(".mlp.fc2.", ".mlp.c_proj.")
        name = name.replace("text_model.final_layer_norm.", "ln_final.")
        name = name.replace("text_model.embeddings.token_embedding.weight", "token_embedding.weight")
        name = name.replace("text_model.embeddings.position_embedding.weight", "positional_embedding")
        if key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
        elif ".q_proj." in name:
            kind = name.rsplit(".", 1)[1]
            fused = torch.cat([value, tensors[key.replace("q_proj", "k_proj")],
                               tensors[key.replace("q_proj", "v_proj")]])
            out[prefix + name.replace("q_proj." + kind, "in_proj_" + kind)] = fused
        elif ".k_proj." not in name and ".v_proj." not in name:
            out[prefix + name] = value
    return out
