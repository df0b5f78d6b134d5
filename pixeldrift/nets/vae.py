"""A KL-regularised convolutional autoencoder: images <-> latents for latent diffusion.

Rombach et al. 2022, "High-Resolution Image Synthesis with Latent Diffusion
Models", sec. 3 and appendix G: the encoder outputs a diagonal Gaussian over the
latent (Kingma & Welling 2014), trained with reconstruction loss plus a small KL
term toward N(0, I). By default 64x64x3 images in [-1, 1] become 16x16x4
latents (each level but the last halves the resolution).

Diffusion runs on `latents = sample * latent_scale` so they have roughly unit
variance; `latent_scale` lives in the config (measured after training), never as
a constant in scripts. Use `encode_to_latents` / `decode_latents` for that
scaled space, `encode` / `decode` for the raw autoencoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.bounded_files import check_number
from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.nets.config import MAX_BLOCKS, MAX_CHANNELS, MAX_WIDTH, JsonConfig, Levels, check_sizes


@dataclass(frozen=True)
class VAEConfig(JsonConfig, Levels):
    """Architecture of the autoencoder and the scale of its latent space (defaults: "small").

    Latents are `downsample_factor` times smaller than the image on each side."""

    image_channels: int = 3
    latent_channels: int = 4
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 4)  # 3 levels: downsampling factor 4
    blocks_per_level: int = 1
    mid_attention: bool = True  # self-attention at the latent resolution
    norm_groups: int = 16
    latent_scale: float = 1.0  # diffusion latents = raw latents * latent_scale

    def __post_init__(self) -> None:
        self.check_levels()
        check_sizes(self, {"image_channels": (1, MAX_CHANNELS), "latent_channels": (1, MAX_CHANNELS),
                           "base_channels": (1, MAX_WIDTH), "blocks_per_level": (1, MAX_BLOCKS),
                           "norm_groups": (1, MAX_WIDTH)})
        bad = [w for w in self.widths if w % self.norm_groups]
        if bad:
            raise ValueError(f"level widths {bad} are not divisible by norm_groups={self.norm_groups}")
        if not isinstance(self.mid_attention, bool):
            raise ValueError(f"mid_attention must be true or false, got {self.mid_attention!r}")
        check_number(self.latent_scale, 1e-6, 1e6, "VAEConfig.latent_scale (> 0)", integer=False)



VAE_PRESETS: dict[str, VAEConfig] = {
    "tiny": VAEConfig(base_channels=16, channel_mults=(1, 2, 2), norm_groups=8),
    "small": VAEConfig(),
    "base": VAEConfig(base_channels=64, channel_mults=(1, 2, 4), blocks_per_level=2, norm_groups=32),
    "large": VAEConfig(base_channels=128, channel_mults=(1, 2, 4, 4), blocks_per_level=2, norm_groups=32),
}


@dataclass
class DiagonalGaussian:
    """N(mean, exp(logvar)) per latent element; tensors (N, C, h, w)."""

    mean: torch.Tensor
    logvar: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """mean + std * noise (the reparameterisation trick); noise drawn on the generator's device."""
        device = generator.device if generator is not None else self.mean.device
        noise = torch.randn(self.mean.shape, generator=generator, device=device, dtype=self.mean.dtype)
        return self.mean + self.std * noise.to(self.mean.device)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(N(mean, var) || N(0, I)) summed over each sample's elements: (N,)."""
        per_element = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return per_element.flatten(1).sum(dim=1)


class PlainResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice with a residual connection (no conditioning)."""

    def __init__(self, in_ch: int, out_ch: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(groups, in_ch), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, padding=1),
            nn.GroupNorm(groups, out_ch), nn.SiLU(), nn.Conv2d(out_ch, out_ch, 3, padding=1),
        )
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class PixelSelfAttention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, residual."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.attn = MultiHeadAttention(channels, heads=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (N, h*w, C)
        return x + self.attn(tokens).transpose(1, 2).reshape(n, c, h, w)


def _middle(cfg: VAEConfig, width: int) -> list[nn.Module]:
    attention = [PixelSelfAttention(width, cfg.norm_groups)] if cfg.mid_attention else []
    return [PlainResBlock(width, width, cfg.norm_groups), *attention, PlainResBlock(width, width, cfg.norm_groups)]


def _head(cfg: VAEConfig, in_ch: int, out_ch: int) -> list[nn.Module]:
    return [nn.GroupNorm(cfg.norm_groups, in_ch), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, padding=1)]


def build_encoder(cfg: VAEConfig) -> nn.Sequential:
    """(N, 3, H, W) -> (N, 2*latent_channels, H/f, W/f): mean and log-variance stacked."""
    layers: list[nn.Module] = [nn.Conv2d(cfg.image_channels, cfg.widths[0], 3, padding=1)]
    width = cfg.widths[0]
    for level, level_width in enumerate(cfg.widths):
        for _ in range(cfg.blocks_per_level):
            layers.append(PlainResBlock(width, level_width, cfg.norm_groups))
            width = level_width
        if level < len(cfg.widths) - 1:
            layers.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
    return nn.Sequential(*layers, *_middle(cfg, width), *_head(cfg, width, 2 * cfg.latent_channels))


def build_decoder(cfg: VAEConfig) -> nn.Sequential:
    """(N, latent_channels, h, w) -> (N, 3, h*f, w*f)."""
    width = cfg.widths[-1]
    layers: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, width, 3, padding=1), *_middle(cfg, width)]
    for level in reversed(range(len(cfg.widths))):
        for _ in range(cfg.blocks_per_level):
            layers.append(PlainResBlock(width, cfg.widths[level], cfg.norm_groups))
            width = cfg.widths[level]
        if level > 0:
            layers += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(width, width, 3, padding=1)]
    return nn.Sequential(*layers, *_head(cfg, width, cfg.image_channels))


class VAE(nn.Module):
    """KL autoencoder. Images are (N, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg)
        self.decoder = build_decoder(cfg)

    def encode(self, images: torch.Tensor) -> DiagonalGaussian:
        self._check(images, self.cfg.image_channels, self.cfg.downsample_factor, "images")
        mean, logvar = self.encoder(images).chunk(2, dim=1)  # (N, C_lat, H/f, W/f) each
        # The clamp keeps exp(logvar) finite early in training (as in latent diffusion).
        return DiagonalGaussian(mean, logvar.clamp(-30.0, 20.0))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._check(z, self.cfg.latent_channels, 1, "latents")
        return self.decoder(z)  # (N, 3, H, W)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, DiagonalGaussian]:
        """Training pass: reconstruction of a posterior sample, and the posterior (for the KL term)."""
        posterior = self.encode(images)
        return self.decode(posterior.sample(generator)), posterior

    def encode_to_latents(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images -> diffusion latents (a posterior sample times `latent_scale`)."""
        return self.encode(images).sample(generator) * self.cfg.latent_scale

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Diffusion latents -> images in roughly [-1, 1]."""
        return self.decode(latents / self.cfg.latent_scale)

    @staticmethod
    def _check(t: torch.Tensor, channels: int, multiple: int, name: str) -> None:
        if t.ndim != 4 or t.shape[1] != channels:
            raise ValueError(f"{name} must have shape (N, {channels}, H, W), got {tuple(t.shape)}")
        if t.shape[2] % multiple or t.shape[3] % multiple:
            raise ValueError(f"{name} height and width must be multiples of {multiple}, got {tuple(t.shape[2:])}")
