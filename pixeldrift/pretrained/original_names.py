"""UNet layer names in the original (CompVis / Stability) layout, from diffusers' names.

Single files and many LoRA files (kohya's for SDXL) name UNet layers the original
way: input_blocks.N / middle_block.N / output_blocks.N, with ResNet parts called
in_layers, emb_layers, out_layers. With L = layers_per_block, level b's layer j is

    down_blocks.b.resnets.j / attentions.j   input_blocks.(1 + b (L + 1) + j).0 / .1
    down_blocks.b.downsamplers.0.conv        input_blocks.((b + 1)(L + 1)).0.op
    mid_block.resnets.0 / attentions.0 / resnets.1   middle_block.0 / 1 / 2
    up_blocks.b.resnets.j / attentions.j     output_blocks.(b (L + 1) + j).0 / .1
    up_blocks.b.upsamplers.0.conv            output_blocks.(b (L + 1) + L).1 (or .2 after an attention).conv
"""

from __future__ import annotations

import re

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
