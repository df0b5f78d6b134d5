"""A text-conditioned UNet denoiser backbone.

The layout follows the ADM UNet (Dhariwal & Nichol 2021, "Diffusion Models Beat
GANs") as used by latent diffusion (Rombach et al. 2022): residual blocks whose
normalisation is modulated by the noise-level embedding (scale-shift), and at
chosen resolutions a transformer block with self-attention and cross-attention
to the text tokens. Skip connections carry every down-path activation to the
mirrored up-path block.

Interface (shared by every denoiser backbone of pixeldrift):
    net(x, noise_level, context=None, context_mask=None) -> out, same shape as x
The UNet also takes `control=`, a ControlNet's residuals (nets/controlnet.py).
Everything is per-sample (GroupNorm, LayerNorm, attention), so a sample's output
does not depend on the rest of the batch; classifier-free guidance relies on it.

At initialisation the output convolution and the last layer of every residual
and attention block are zero, so each block is the identity and the network
outputs exactly zero (Goyal et al. 2017's zero-init residual trick, used by ADM).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pixeldrift.nets.attention import MultiHeadAttention, check_context
from pixeldrift.nets.config import (MAX_BLOCKS, MAX_CHANNELS, MAX_MULT, MAX_REPEATS, MAX_WIDTH, JsonConfig, Levels,
                                    check_sizes)
from pixeldrift.nets.embeddings import NoiseLevelEmbedding, check_noise_level


@dataclass(frozen=True)
class UNetConfig(JsonConfig, Levels):
    """Architecture of a UNet (defaults: the "small" preset). A level is one resolution; each level
    but the last halves it."""

    in_channels: int = 4
    out_channels: int = 4
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 4)  # width of level i = base_channels * channel_mults[i]
    blocks_per_level: int = 1
    attention_levels: tuple[int, ...] = (0, 1, 2)  # levels with a self/cross-attention block
    head_channels: int = 32  # channels per attention head
    context_dim: int | None = 256  # width of the text tokens; None = no cross-attention
    mlp_ratio: int = 2  # hidden width of the attention block's MLP, in multiples of its width
    norm_groups: int = 16
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self.check_levels()
        check_sizes(self, {"in_channels": (1, MAX_CHANNELS), "out_channels": (1, MAX_CHANNELS),
                           "base_channels": (1, MAX_WIDTH), "blocks_per_level": (1, MAX_BLOCKS),
                           "head_channels": (1, MAX_WIDTH), "context_dim": (1, MAX_WIDTH),
                           "mlp_ratio": (1, MAX_MULT), "norm_groups": (1, MAX_WIDTH)})
        levels = len(self.channel_mults)
        if not isinstance(self.attention_levels, (tuple, list)) or len(self.attention_levels) > levels:
            raise ValueError(f"attention_levels must list at most {levels} levels, got {self.attention_levels!r}")
        bad_levels = [i for i in self.attention_levels if not isinstance(i, int) or not 0 <= i < levels]
        if bad_levels:
            raise ValueError(f"attention_levels {bad_levels} out of range; levels are 0..{levels - 1}")
        for width in self.widths:
            if width % self.norm_groups or width % self.head_channels:
                raise ValueError(
                    f"level width {width} must be divisible by norm_groups={self.norm_groups} "
                    f"and head_channels={self.head_channels}"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")



# Size presets. "small" is the CPU default for 16x16x4 latents; "tiny" is for tests.
UNET_PRESETS: dict[str, UNetConfig] = {
    "tiny": UNetConfig(base_channels=32, channel_mults=(1, 2), attention_levels=(1,), head_channels=16,
                       context_dim=64, norm_groups=8),
    "small": UNetConfig(),  # 4.0M parameters, ~23 ms per batch-8 call on 2 CPU cores (bench/nets_forward.py)
    "base": UNetConfig(base_channels=128, channel_mults=(1, 2, 3), blocks_per_level=2, attention_levels=(1, 2),
                       head_channels=64, context_dim=512, mlp_ratio=4, norm_groups=32),
    "large": UNetConfig(base_channels=192, channel_mults=(1, 2, 4), blocks_per_level=2,
                        attention_levels=(0, 1, 2), head_channels=64, context_dim=768, mlp_ratio=4, norm_groups=32),
}


def zero_init(module: nn.Module) -> nn.Module:
    """Zero a layer that closes a residual branch, so the branch starts as a no-op."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice; the second norm is modulated by the embedding: h*(1+scale)+shift."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb_proj = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (N, out, H, W)
        scale, shift = self.emb_proj(F.silu(emb))[:, :, None, None].chunk(2, dim=1)  # (N, out, 1, 1) each
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))  # (N, out, H, W)
        return self.skip(x) + h


class TransformerBlock(nn.Module):
    """Self-attention, cross-attention to the text tokens, and an MLP over the pixels of a feature map."""

    def __init__(self, channels: int, heads: int, context_dim: int | None, groups: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm_in = nn.GroupNorm(groups, channels)
        self.proj_in = nn.Linear(channels, channels)
        self.norm_self = nn.LayerNorm(channels)
        self.self_attn = MultiHeadAttention(channels, heads)
        self.norm_cross = nn.LayerNorm(channels) if context_dim else None
        self.cross_attn = MultiHeadAttention(channels, heads, context_dim) if context_dim else None
        self.norm_mlp = nn.LayerNorm(channels)
        hidden = mlp_ratio * channels
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))
        self.proj_out = zero_init(nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        n, c, height, width = x.shape
        h = self.norm_in(x).flatten(2).transpose(1, 2)  # (N, H*W, C)
        h = self.proj_in(h)
        h = h + self.self_attn(self.norm_self(h))
        if self.cross_attn is not None and context is not None:
            h = h + self.cross_attn(self.norm_cross(h), context, mask)  # attends to (N, L, D)
        h = h + self.mlp(self.norm_mlp(h))
        h = self.proj_out(h).transpose(1, 2).reshape(n, c, height, width)  # (N, C, H, W)
        return x + h


class Stage(nn.Module):
    """One residual block, optionally followed by a transformer block."""

    def __init__(self, cfg: UNetConfig, in_ch: int, out_ch: int, emb_dim: int, attention: bool) -> None:
        super().__init__()
        self.res = ResBlock(in_ch, out_ch, emb_dim, cfg.norm_groups, cfg.dropout)
        self.attn = (
            TransformerBlock(out_ch, out_ch // cfg.head_channels, cfg.context_dim, cfg.norm_groups, cfg.mlp_ratio)
            if attention
            else None
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor | None,
                mask: torch.Tensor | None) -> torch.Tensor:
        h = self.res(x, emb)
        return h if self.attn is None else self.attn(h, context, mask)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (N, C, H/2, W/2)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # nearest-neighbour 2x as a broadcast copy: bit-equal to F.interpolate(mode="nearest"), which measured
        # 5x slower on a CPU (45 ms against 9 for 32 x 32 channels at 32 x 32), a fifth of a VAE decode
        n, c, h, w = x.shape
        doubled = x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
        return self.conv(doubled)  # (N, C, 2H, 2W)


class UNetEncoder(nn.Module):
    """The noise embedding, input convolution, down path and middle of a UNet.

    Shared by the UNet and its ControlNet copy (nets/controlnet.py): the same module names, so the copy
    loads the UNet's weights by name."""

    def _build_encoder(self, cfg: UNetConfig) -> tuple[int, list[int]]:
        """Build the encoder's layers; returns the embedding width and the width of every skip."""
        self.cfg = cfg
        emb_dim = 4 * cfg.base_channels
        self.noise_embed = NoiseLevelEmbedding(cfg.base_channels, emb_dim)
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.base_channels, 3, padding=1)
        self.down, skip_widths = self._build_down(emb_dim)
        top = cfg.widths[-1]
        self.mid = nn.ModuleList(
            [Stage(cfg, top, top, emb_dim, attention=True), Stage(cfg, top, top, emb_dim, attention=False)]
        )
        return emb_dim, skip_widths

    def _build_down(self, emb_dim: int) -> tuple[nn.ModuleList, list[int]]:
        cfg, layers = self.cfg, nn.ModuleList()
        skip_widths, width = [cfg.base_channels], cfg.base_channels
        for level, level_width in enumerate(cfg.widths):
            for _ in range(cfg.blocks_per_level):
                layers.append(Stage(cfg, width, level_width, emb_dim, level in cfg.attention_levels))
                width = level_width
                skip_widths.append(width)
            if level < len(cfg.widths) - 1:
                layers.append(Downsample(width))
                skip_widths.append(width)
        return layers, skip_widths

    def encode(self, x: torch.Tensor, noise_level: torch.Tensor, context: torch.Tensor | None = None,
               context_mask: torch.Tensor | None = None, hint: torch.Tensor | None = None):
        """(middle output, skips, noise embedding); `hint` (N, C0, H, W) is added after the input convolution."""
        self._check_input(x)
        check_context(context, context_mask, x.shape[0], self.cfg.context_dim)
        emb = self.noise_embed(check_noise_level(noise_level, x.shape[0]).to(x.device))  # (N, E)
        h = self.conv_in(x)  # (N, C0, H, W)
        if hint is not None:
            h = h + hint
        skips = [h]
        for layer in self.down:
            h = layer(h) if isinstance(layer, Downsample) else layer(h, emb, context, context_mask)
            skips.append(h)
        for stage in self.mid:
            h = stage(h, emb, context, context_mask)  # (N, C_top, H/f, W/f)
        return h, skips, emb

    def _check_input(self, x: torch.Tensor) -> None:
        factor = self.cfg.downsample_factor
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"x must have shape (N, {self.cfg.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(f"height and width must be multiples of {factor}, got {tuple(x.shape[2:])}")


class UNet(UNetEncoder):
    """UNet denoiser backbone: `net(x, noise_level, context=None, context_mask=None) -> out`."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        emb_dim, skip_widths = self._build_encoder(cfg)
        self.up = self._build_up(emb_dim, skip_widths)
        self.norm_out = nn.GroupNorm(cfg.norm_groups, cfg.widths[0])
        self.conv_out = zero_init(nn.Conv2d(cfg.widths[0], cfg.out_channels, 3, padding=1))

    def _build_up(self, emb_dim: int, skip_widths: list[int]) -> nn.ModuleList:
        cfg, layers = self.cfg, nn.ModuleList()
        skip_widths, width = list(skip_widths), cfg.widths[-1]
        for level in reversed(range(len(cfg.widths))):
            level_width = cfg.widths[level]
            for block in range(cfg.blocks_per_level + 1):
                in_width = width + skip_widths.pop()
                layers.append(Stage(cfg, in_width, level_width, emb_dim, level in cfg.attention_levels))
                width = level_width
                if level > 0 and block == cfg.blocks_per_level:
                    layers.append(Upsample(width))
        return layers

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None,
                control: list[torch.Tensor] | None = None) -> torch.Tensor:
        """`control`: a ControlNet's residuals (nets/controlnet.py), one per skip and the last for the
        middle, added before the up path reads them; None leaves the network exactly as it is."""
        h, skips, emb = self.encode(x, noise_level, context, context_mask)
        if control is not None:
            h, skips = self._add_control(h, skips, control)
        for layer in self.up:
            if isinstance(layer, Upsample):
                h = layer(h)
            else:
                h = layer(torch.cat([h, skips.pop()], dim=1), emb, context, context_mask)
        return self.conv_out(F.silu(self.norm_out(h)))  # (N, C_out, H, W)

    def _add_control(self, h: torch.Tensor, skips: list[torch.Tensor], control: list[torch.Tensor]):
        """h + the middle residual, each skip + its residual; ValueError when they do not line up."""
        if len(control) != len(skips) + 1:
            raise ValueError(f"control must hold {len(skips) + 1} residuals (one per skip, then the middle), "
                             f"got {len(control)}")
        for index, (feature, residual) in enumerate(zip([*skips, h], control)):
            if residual.shape != feature.shape:
                raise ValueError(f"control residual {index} has shape {tuple(residual.shape)}, the feature it "
                                 f"adds to {tuple(feature.shape)}")
        return h + control[-1], [s + r for s, r in zip(skips, control)]
