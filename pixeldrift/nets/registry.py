"""The network families by name, for model folders and the command line.

A model folder's config.json records e.g. `{"arch": "unet", "config": {...}}`;
`build_network("unet", that_dict)` rebuilds the module. Names map to classes in
this explicit table, never through imports by string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pixeldrift.nets.config import JsonConfig
from pixeldrift.nets.dit import DIT_PRESETS, DiT, DiTConfig
from pixeldrift.nets.text_encoder import TEXT_ENCODER_PRESETS, TextEncoder, TextEncoderConfig
from pixeldrift.nets.unet import UNET_PRESETS, UNet, UNetConfig
from pixeldrift.nets.vae import VAE, VAE_PRESETS, VAEConfig


@dataclass(frozen=True)
class Architecture:
    config_class: type[JsonConfig]
    module_class: type[nn.Module]
    presets: dict[str, JsonConfig]


ARCHITECTURES: dict[str, Architecture] = {
    "unet": Architecture(UNetConfig, UNet, UNET_PRESETS),
    "dit": Architecture(DiTConfig, DiT, DIT_PRESETS),
    "vae": Architecture(VAEConfig, VAE, VAE_PRESETS),
    "text-encoder": Architecture(TextEncoderConfig, TextEncoder, TEXT_ENCODER_PRESETS),
}


def get_architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown network architecture {name!r}; accepted: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def resolve_config(name: str, config: JsonConfig | dict[str, Any] | str) -> JsonConfig:
    """A config object from a config, its JSON dict, or a preset name."""
    arch = get_architecture(name)
    if isinstance(config, str):
        if config not in arch.presets:
            raise ValueError(f"unknown {name} preset {config!r}; accepted: {', '.join(arch.presets)}")
        return arch.presets[config]
    if isinstance(config, dict):
        return arch.config_class.from_dict(config)
    if not isinstance(config, arch.config_class):
        raise TypeError(f"{name} needs a {arch.config_class.__name__}, got {type(config).__name__}")
    return config


def build_network(name: str, config: JsonConfig | dict[str, Any] | str) -> nn.Module:
    """Build a network of family `name` ("unet", "dit", "vae", "text-encoder") from a config or preset."""
    return get_architecture(name).module_class(resolve_config(name, config))


MAX_PARAMETERS = 5_000_000_000  # 20 GB of float32: far past anything this project trains


def parameter_count(name: str, config: JsonConfig) -> int:
    """The parameters a config would build, counted on the meta device: shapes only, no memory.

    Checked before building from a file, so a config.json that asks for a network
    larger than any machine here holds is refused in milliseconds.
    """
    with torch.device("meta"):
        module = build_network(name, config)
    return sum(p.numel() for p in module.parameters())


def expected_state(module_class: type[nn.Module], config: JsonConfig) -> dict[str, torch.Tensor]:
    """The state dict a module would have, as meta tensors (shapes and dtypes only), to check a weights
    file against before anything is built or read."""
    with torch.device("meta"):
        return module_class(config).state_dict()
