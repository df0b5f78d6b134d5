"""A Stable Diffusion ControlNet, loaded, as a residual branch for sampling/control.py's ControlDenoiser.

ControlNet (Zhang, Rao & Agrawala 2023) runs a trainable copy of the UNet's encoder on
the same input as the UNet, plus the control image (the hint, in pixels, RGB in [0, 1]),
and returns one residual per encoder skip and one for the middle (their eq. 2-4: zero
convolutions after each block). The UNet adds them to its skips and middle:

    eps = UNet(x_t, t, c; skips + sum_i w_i r_i, middle + sum_i w_i m_i),   (r_i, m_i) = ControlNet_i(x_t, t, c, hint_i)

The network is diffusers' ControlNetModel; the weighting w_i (strength, active steps),
the sum over several ControlNets and classifier-free guidance are ours (ControlDenoiser),
so SD ControlNets and pixeldrift's own share one mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# cross-attention widths of the families' text encoders: what tells an SD 1.x ControlNet from an SD 2.x one
FAMILY_OF_WIDTH = {768: "sd1", 1024: "sd2", 2048: "sdxl"}


class ControlNetBranch(nn.Module):
    """diffusers' ControlNetModel called as net(x_in, timestep, hint, **cond) -> [skip residuals..., middle]."""

    def __init__(self, controlnet: nn.Module):
        super().__init__()
        self.controlnet = controlnet

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, hint: torch.Tensor, context: torch.Tensor,
                pooled: torch.Tensor | None = None, time_ids: torch.Tensor | None = None) -> list[torch.Tensor]:
        dtype = self.controlnet.dtype
        added = None if pooled is None else {"text_embeds": pooled.to(dtype), "time_ids": time_ids.to(dtype)}
        skips, middle = self.controlnet(x.to(dtype), timestep, encoder_hidden_states=context.to(dtype),
                                        controlnet_cond=hint.to(dtype), conditioning_scale=1.0,
                                        added_cond_kwargs=added, return_dict=False)
        return [r.to(x.dtype) for r in (*skips, middle)]


def made_for(config) -> str:
    """The family a ControlNet or UNet config fits, in words: 'SDXL (cross-attention width 2048)'."""
    width = config["cross_attention_dim"]
    if config.get("addition_embed_type") == "text_time":
        family = "sdxl"
    else:
        family = FAMILY_OF_WIDTH.get(width, "an unknown family")
    return f"{family} (cross-attention width {width})"


def mismatches(controlnet, unet, image_factor: int) -> list[str]:
    """What keeps a ControlNet config from steering a UNet config whose VAE scales by image_factor."""
    problems = []
    for key in ("cross_attention_dim", "addition_embed_type", "in_channels", "layers_per_block"):
        if controlnet.get(key) != unet.get(key):
            problems.append(f"{key} {controlnet.get(key)} vs {unet.get(key)}")
    if list(controlnet["block_out_channels"]) != list(unet["block_out_channels"]):
        problems.append(f"block_out_channels {list(controlnet['block_out_channels'])} vs "
                        f"{list(unet['block_out_channels'])}")
    hint_factor = 2 ** (len(controlnet["conditioning_embedding_out_channels"]) - 1)
    if hint_factor != image_factor:
        problems.append(f"its control image is {hint_factor}x the latent's size, the model's VAE {image_factor}x")
    return problems


@dataclass
class SDControlNet:
    """A loaded SD ControlNet: the residual branch, the file or folder it came from, its config."""

    net: ControlNetBranch
    source: Path
    config: dict
    kind: str = ""  # what its control images show is not in its files; the request's module says it

    @property
    def name(self) -> str:
        return self.source.stem if self.source.suffix.lower() == ".safetensors" else self.source.name

    @property
    def made_for(self) -> str:
        return made_for(self.config)

    def check_base(self, model) -> None:
        """ValueError naming both unless `model` is a Stable Diffusion model this ControlNet can steer."""
        check_steers(self.source, self.config, model)


def check_steers(source, config: dict, model) -> None:
    """ValueError naming both unless the ControlNet of `config` (from `source`) fits `model`'s UNet and VAE."""
    unet, family = getattr(model, "unet", None), getattr(model, "family", None)
    if unet is None or family is None:
        raise ValueError(f"the ControlNet {source} steers Stable Diffusion {made_for(config)}; "
                         f"{getattr(model, 'name', 'this model')!r} is a pixeldrift model: give it a "
                         "pixeldrift ControlNet folder (pixeldrift train controlnet)")
    problems = mismatches(config, dict(unet.config), model.vae_factor)
    if problems:
        raise ValueError(f"the ControlNet {source} is for {made_for(config)} but the model {model.name!r} is "
                         f"{family.name} (cross-attention width {unet.config.cross_attention_dim}); they differ "
                         f"in {'; '.join(problems)}")
