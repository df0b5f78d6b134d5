"""Opening Stable Diffusion ControlNets in the layouts people download.

    FOLDER/config.json + diffusion_pytorch_model.safetensors   diffusers' layout (ControlNetModel)
    NAME.safetensors, original names                          lllyasviel's SD 1.5 files (control_model.*),
                                                              SD 2.x ones without that prefix
    NAME.safetensors, diffusers' names                        most single-file SDXL ControlNets

A single file has no config. A ControlNet copies its UNet's encoder (Zhang, Rao &
Agrawala 2023), so its weights show nearly all of the architecture: widths, levels,
ResNets per level, transformer depth, cross-attention width, the hint encoder's
channels. What holds no weights (attention heads, a few switches) comes from the base
model's UNet config, or without a base from the family's published one (presets.py).
A ControlNet for another family than the base is refused naming both before any
network is built. Only safetensors files are read, each header checked first.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import torch

from pixeldrift.pretrained.components import build_checked, build_on_meta, check_config, check_fits, load_strict
from pixeldrift.pretrained.controlnet_names import from_original, is_original_layout
from pixeldrift.pretrained.diffusers_folder import containment_root, load_part, read_config
from pixeldrift.pretrained.extra import CheckpointError, require_extra
from pixeldrift.pretrained.presets import PRESETS
from pixeldrift.pretrained.sd_controlnet import FAMILY_OF_WIDTH, ControlNetBranch, SDControlNet, check_steers
from pixeldrift.pretrained.weight_files import header_tensors, read_tensors

CLASS_NAME = "ControlNetModel"
LAST = 1 << 30  # conv_out's place when the hint convs are sorted
HINT_CONV = re.compile(r"^controlnet_cond_embedding\.(conv_in|blocks\.(\d+)|conv_out)\.weight$")


def open_controlnet(path, base=None, device=None, dtype=None) -> SDControlNet:
    """An SD ControlNet from a diffusers folder or a single .safetensors file, checked against `base`
    (a StableDiffusion model) when given; CheckpointError naming the file and the problem otherwise.
    device and dtype: the base's by default, else the CPU in float32 (float16 on other devices)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    require_extra()
    if path.is_dir():
        net, config = _from_folder(path, base)
    elif path.suffix.lower() == ".safetensors":
        net, config = _from_single_file(path, base)
    else:
        raise CheckpointError(f"{path}: a ControlNet opens from a diffusers folder or a .safetensors file; "
                              f"{path.suffix or 'this'} files are not read (a pickle can run code)")
    if base is not None and getattr(base, "unet", None) is not None:
        device, dtype = device or base.device, dtype or base.unet.dtype
    device = device or "cpu"
    dtype = dtype or (torch.float32 if str(device) == "cpu" else torch.float16)
    branch = ControlNetBranch(net).to(device=device, dtype=dtype).eval().requires_grad_(False)
    return SDControlNet(branch, path, config)


def _build(config: dict):
    from diffusers import ControlNetModel

    return lambda: ControlNetModel.from_config(config)


def _checked_base(source: Path, config: dict, base) -> None:
    if base is not None:
        try:
            check_steers(source, config, base)
        except ValueError as error:
            raise CheckpointError(str(error)) from None


def _from_folder(folder: Path, base):
    """A diffusers ControlNet folder: its config.json (bounded, of class ControlNetModel), then its weights."""
    if (folder / "model_index.json").is_file():
        raise CheckpointError(f"{folder}: a whole diffusers model, not a ControlNet; give the folder with the "
                              "ControlNet's config.json and diffusion_pytorch_model.safetensors")
    root = containment_root(folder)
    config = read_config(folder / "config.json", root)
    if config.get("_class_name") != CLASS_NAME:
        raise CheckpointError(f"{folder / 'config.json'}: describes a {str(config.get('_class_name'))[:80]!r}, "
                              f"not a {CLASS_NAME}")
    if config.get("global_pool_conditions"):
        raise CheckpointError(f"{folder}: a global-pooling ControlNet (e.g. shuffle) needs diffusers' guess mode, "
                              "which pixeldrift does not have")
    full = dict(build_on_meta(_build(config), str(folder)).config)  # diffusers' defaults filled in
    _checked_base(folder, full, base)
    return load_part(root, folder, _build(config), pickles=False), full


def _from_single_file(path: Path, base):
    """One .safetensors file: names and shapes from its header give the architecture; the family is checked
    against `base` and the header against the network built on meta before any weight is read."""
    header = _diffusers_names(header_tensors(path), path)
    config = architecture(header, _unet_config(header, base, path), path)
    _checked_base(path, config, base)
    build, source = _build(config), str(path)
    check_fits(build_on_meta(build, source), header, source)
    net = load_strict(build_checked(build, source), _diffusers_names(read_tensors(path), path), source)
    return net, dict(net.config)


def _diffusers_names(tensors: dict, path: Path) -> dict:
    if "controlnet_cond_embedding.conv_in.weight" in tensors:
        return tensors
    if not is_original_layout(tensors):
        raise CheckpointError(f"{path}: not a ControlNet (it has no hint encoder: neither "
                              "controlnet_cond_embedding.* nor control_model.input_hint_block.* tensors)")
    try:
        return from_original(tensors)
    except KeyError as error:
        raise CheckpointError(f"{path}: not in the original ControlNet layout ({error.args[0]})") from None


def _unet_config(tensors: dict, base, path: Path) -> dict:
    """The UNet config to take what holds no weights from: the base's, else the family's published one."""
    if base is not None and getattr(base, "unet", None) is not None:
        return dict(base.unet.config)
    width = _shape(tensors, "attn2.to_k.weight", path)[1]
    family = "sdxl" if "add_embedding.linear_1.weight" in tensors else FAMILY_OF_WIDTH.get(width)
    if family is None:
        raise CheckpointError(f"{path}: a ControlNet with cross-attention width {width}, of no family pixeldrift "
                              "knows by heart (768 SD 1.x, 1024 SD 2.x, 2048 SDXL); open it with its base model")
    return PRESETS[family]["unet"]


def architecture(tensors: dict, unet: dict, path: Path) -> dict:
    """A ControlNetModel config from its tensors' names and shapes, and `unet` for what holds no weights."""
    from diffusers import ControlNetModel

    accepted = inspect.signature(ControlNetModel.__init__).parameters
    config = {key: value for key, value in unet.items() if key in accepted}
    config.update(_encoder(tensors, path))
    hint = _hint_convs(tensors, path)
    config.update(conditioning_channels=hint[0].shape[1],
                  conditioning_embedding_out_channels=[w.shape[0] for w in hint[:-1]][0::2])
    if any(name.endswith(".attn2.to_k.weight") for name in tensors):
        config.update(cross_attention_dim=_shape(tensors, "attn2.to_k.weight", path)[1],
                      use_linear_projection=len(_shape(tensors, "proj_in.weight", path)) == 2)
    added = tensors.get("add_embedding.linear_1.weight")   # SDXL's pooled text and size conditioning
    config.update(addition_embed_type=None if added is None else "text_time",
                  projection_class_embeddings_input_dim=None if added is None else added.shape[1])
    levels, heads = len(config["block_out_channels"]), config.get("attention_head_dim")
    if isinstance(heads, list) and len(heads) != levels:
        config["attention_head_dim"] = heads[:levels]  # another family than `unet`'s: the base check refuses it
    return check_config(config, path)


def _encoder(tensors: dict, path: Path) -> dict:
    """Widths, ResNets and attention of the copied encoder: levels, transformer depth, the middle's kind."""
    levels = _count(tensors, r"^down_blocks\.(\d+)\.resnets\.")
    attends = [any(k.startswith(f"down_blocks.{b}.attentions.") for k in tensors) for b in range(levels)]
    middle = _count(tensors, r"^mid_block\.attentions\.0\.transformer_blocks\.(\d+)\.")
    # transformer blocks per level (0: the lighter SDXL ControlNets keep a level's attention shell only); a
    # level without attention takes the middle's depth, which diffusers reads from the last level
    depth = [_count(tensors, rf"^down_blocks\.{b}\.attentions\.0\.transformer_blocks\.(\d+)\.") if attends[b]
             else middle for b in range(levels)]
    has_middle_attention = any(k.startswith("mid_block.attentions.") for k in tensors)
    return {"in_channels": _shape(tensors, "conv_in.weight", path, exact=True)[1],
            "block_out_channels": [_shape(tensors, f"down_blocks.{b}.resnets.0.conv1.weight", path, exact=True)[0]
                                   for b in range(levels)],
            "layers_per_block": _count(tensors, r"^down_blocks\.0\.resnets\.(\d+)\."),
            "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attends],
            "transformer_layers_per_block": depth,
            "mid_block_type": "UNetMidBlock2DCrossAttn" if has_middle_attention else "UNetMidBlock2D"}


def _count(tensors: dict, pattern: str) -> int:
    found = {int(m.group(1)) for name in tensors if (m := re.match(pattern, name))}
    return max(found) + 1 if found else 0


def _shape(tensors: dict, name: str, path: Path, exact: bool = False) -> tuple:
    """The shape of tensor `name` (with exact=False: the first whose name ends with it)."""
    for key, value in tensors.items():
        if key == name or (not exact and key.endswith("." + name)):
            return tuple(value.shape)
    raise CheckpointError(f"{path}: not a complete ControlNet (no {name} tensor)")


def _hint_convs(tensors: dict, path: Path) -> list:
    """The hint encoder's conv weights in order: conv_in, blocks.0, blocks.1, ..., conv_out."""
    found = {}
    for name, value in tensors.items():
        match = HINT_CONV.match(name)
        if match:
            part = match.group(1)
            found[-1 if part == "conv_in" else LAST if part == "conv_out" else int(match.group(2))] = value
    if -1 not in found or LAST not in found or any(value.ndim != 4 for value in found.values()):
        raise CheckpointError(f"{path}: the ControlNet's hint encoder is incomplete (it needs conv_in and conv_out "
                              "convolutions)")
    return [found[k] for k in sorted(found)]
