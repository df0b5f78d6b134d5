"""ControlNet layer names: from the original layout (lllyasviel's ControlNet repository) to diffusers'.

A ControlNet (Zhang, Rao & Agrawala 2023) is a trainable copy of a UNet's encoder and
middle, so those layers keep the UNet's original names (original_names.py says how
they map). What the ControlNet adds is named

    original                       diffusers
    input_hint_block.0             controlnet_cond_embedding.conv_in    the hint encoder's first conv
    input_hint_block.(2 (j + 1))   controlnet_cond_embedding.blocks.j
    input_hint_block.LAST          controlnet_cond_embedding.conv_out   the hint encoder's zero conv
    zero_convs.i.0                 controlnet_down_blocks.i             one zero 1x1 conv per skip
    middle_block_out.0             controlnet_mid_block                 and one for the middle

(the hint encoder's odd indices are SiLU activations, which hold no weights). Files of
the original repository put everything under `control_model.`; some (SD 2.x ControlNets)
have no prefix.
"""

from __future__ import annotations

import re

from pixeldrift.pretrained.original_names import _RESNET, _TOP

ORIGINAL_PREFIX = "control_model."
_TOP_FROM_ORIGINAL = {old: new for new, old in _TOP.items()}
_RESNET_FROM_ORIGINAL = {old: new for new, old in _RESNET.items()}
_NUMBERED = re.compile(r"^(input_blocks|middle_block|input_hint_block|zero_convs|middle_block_out)\.(\d+)\.(.*)$")


def is_original_layout(names) -> bool:
    """Whether a ControlNet file's tensor names are the original ones (with or without `control_model.`)."""
    return any(name.removeprefix(ORIGINAL_PREFIX).startswith("input_hint_block.") for name in names)


def layers_per_block(names) -> int:
    """ResNets per encoder level, from original names: the encoder has levels * (L + 1) input blocks
    (counting conv_in as block 0 and the downsamplers, one per level but the last)."""
    blocks, downsamplers = set(), set()
    for name in names:
        match = re.match(r"^input_blocks\.(\d+)\.0\.(op\.)?", name)
        if match:
            blocks.add(int(match.group(1)))
            if match.group(2):
                downsamplers.add(int(match.group(1)))
    return max(1, (max(blocks, default=0) + 1) // (len(downsamplers) + 1) - 1)


def diffusers_controlnet_name(name: str, per_level: int, last_hint: int) -> str:
    """The diffusers name of an original ControlNet tensor name (without `control_model.`).

    per_level = layers_per_block + 1; last_hint = the hint encoder's last index (its zero conv).
    KeyError for a name that is not part of a ControlNet.
    """
    for old, new in _TOP_FROM_ORIGINAL.items():
        if name.startswith(old + "."):
            return new + name[len(old):]
    match = _NUMBERED.match(name)
    if match is None:
        raise KeyError(name)
    kind, index, rest = match.group(1), int(match.group(2)), match.group(3)
    if kind == "input_hint_block":
        part = "conv_in" if index == 0 else "conv_out" if index == last_hint else f"blocks.{index // 2 - 1}"
        return f"controlnet_cond_embedding.{part}.{rest}"
    if kind == "zero_convs":
        return f"controlnet_down_blocks.{index}.{rest.removeprefix('0.')}"
    if kind == "middle_block_out":
        return f"controlnet_mid_block.{rest}"
    if kind == "middle_block":
        return f"mid_block.attentions.0.{rest}" if index == 1 else f"mid_block.resnets.{index // 2}.{_resnet(rest)}"
    return _input_block(index, rest, per_level)


def _input_block(index: int, rest: str, per_level: int) -> str:
    """input_blocks.I.P.rest -> the down block layer it is (original_names.py's table, read backwards)."""
    level, position = divmod(index - 1, per_level)
    part, _, rest = rest.partition(".")
    if rest.startswith("op."):
        return f"down_blocks.{level}.downsamplers.0.conv.{rest[3:]}"
    if part == "0":
        return f"down_blocks.{level}.resnets.{position}.{_resnet(rest)}"
    return f"down_blocks.{level}.attentions.{position}.{rest}"


def _resnet(rest: str) -> str:
    """in_layers.2.weight -> conv1.weight (the original names of ResNet parts have one or two parts)."""
    for old, new in _RESNET_FROM_ORIGINAL.items():
        if rest.startswith(old + "."):
            return new + rest[len(old):]
    return rest


def from_original(tensors: dict) -> dict:
    """A ControlNet's tensors renamed from the original layout to diffusers'; KeyError naming the tensors
    that belong to no ControlNet layer."""
    names = {name.removeprefix(ORIGINAL_PREFIX): value for name, value in tensors.items()}
    hints = [int(m.group(1)) for n in names if (m := re.match(r"^input_hint_block\.(\d+)\.", n))]
    per_level, last_hint = layers_per_block(names) + 1, max(hints, default=0)
    renamed, unknown = {}, []
    for name, value in names.items():
        try:
            renamed[diffusers_controlnet_name(name, per_level, last_hint)] = value
        except KeyError:
            unknown.append(name)
    if unknown:
        raise KeyError(f"{len(unknown)} tensor(s) are not ControlNet layers, e.g. {', '.join(unknown[:3])}")
    return renamed
