"""A diffusion transformer (DiT) denoiser backbone with cross-attention to text.

Peebles & Xie 2023, "Scalable Diffusion Models with Transformers": the latent is
cut into p x p patches, each patch becomes a token with a fixed 2-D sin-cos
position, and a stack of transformer blocks is conditioned on the noise level by
adaLN-Zero (adaptive LayerNorm whose scale, shift and residual gate are
regressed from the embedding, the gates starting at zero). Text enters through a
cross-attention layer in every block, as in PixArt-alpha (Chen et al. 2023).

Interface: `net(x, noise_level, context=None, context_mask=None) -> out` (shape of x).

At initialisation every gate, the cross-attention output projections and the
final layer are zero: every block is the identity and the output is exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.nets.attention import MultiHeadAttention, check_context
from pixeldrift.nets.config import MAX_CHANNELS, MAX_MULT, MAX_REPEATS, MAX_WIDTH, JsonConfig, check_sizes
from pixeldrift.nets.embeddings import NoiseLevelEmbedding, check_noise_level, sinusoidal_embedding


@dataclass(frozen=True)
class DiTConfig(JsonConfig):
    """Architecture of a DiT (defaults: the "small" preset)."""

    in_channels: int = 4
    out_channels: int = 4
    patch_size: int = 2
    hidden_dim: int = 256
    depth: int = 6
    heads: int = 4
    mlp_ratio: int = 4
    context_dim: int | None = 256  # width of the text tokens; None = no cross-attention

    def __post_init__(self) -> None:
        check_sizes(self, {"in_channels": (1, MAX_CHANNELS), "out_channels": (1, MAX_CHANNELS),
                           "patch_size": (1, MAX_MULT), "hidden_dim": (1, MAX_WIDTH), "depth": (1, MAX_REPEATS),
                           "heads": (1, MAX_REPEATS), "mlp_ratio": (1, MAX_MULT), "context_dim": (1, MAX_WIDTH)})
        if self.hidden_dim % self.heads or self.hidden_dim % 4:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be divisible by heads={self.heads} and by 4 (2-D positions)"
            )

    @property
    def downsample_factor(self) -> int:
        """Input height and width must be multiples of this: one token per patch."""
        return self.patch_size


# Size presets; "base" and "large" follow DiT-B and DiT-L (width, depth, heads).
DIT_PRESETS: dict[str, DiTConfig] = {
    "tiny": DiTConfig(hidden_dim=96, depth=4, heads=4, context_dim=64),
    "small": DiTConfig(),
    "base": DiTConfig(hidden_dim=768, depth=12, heads=12, context_dim=512),
    "large": DiTConfig(hidden_dim=1024, depth=24, heads=16, context_dim=768),
}


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Adaptive LayerNorm: per-sample scale and shift of normalised tokens (N, T, D)."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class DiTBlock(nn.Module):
    """adaLN-Zero self-attention and MLP, with a (zero-initialised) cross-attention in between."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, context_dim: int | None) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = MultiHeadAttention(dim, heads)
        self.norm_cross = nn.LayerNorm(dim) if context_dim else None
        self.cross_attn = MultiHeadAttention(dim, heads, context_dim) if context_dim else None
        self.norm_mlp = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * dim, dim))
        self.ada_ln = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor, context: torch.Tensor | None,
                mask: torch.Tensor | None) -> torch.Tensor:
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.ada_ln(c).chunk(6, dim=1)  # (N, D) each
        x = x + gate_a[:, None, :] * self.attn(modulate(self.norm_attn(x), shift_a, scale_a))  # (N, T, D)
        if self.cross_attn is not None and context is not None:
            x = x + self.cross_attn(self.norm_cross(x), context, mask)
        return x + gate_m[:, None, :] * self.mlp(modulate(self.norm_mlp(x), shift_m, scale_m))


class FinalLayer(nn.Module):
    """adaLN then a linear map from each token to its p*p*C_out patch values."""

    def __init__(self, dim: int, patch_values: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada_ln = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, patch_values)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada_ln(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))  # (N, T, p*p*C_out)


def grid_position_embedding(height: int, width: int, dim: int, device: torch.device) -> torch.Tensor:
    """Fixed 2-D sin-cos positions (N-free): half the channels encode the row, half the column."""
    rows, cols = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device),
                                indexing="ij")
    row_emb = sinusoidal_embedding(rows.flatten().float(), dim // 2)  # (T, D/2)
    col_emb = sinusoidal_embedding(cols.flatten().float(), dim // 2)  # (T, D/2)
    return torch.cat([row_emb, col_emb], dim=1)  # (T, D)


class DiT(nn.Module):
    """DiT denoiser backbone: `net(x, noise_level, context=None, context_mask=None) -> out`."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Conv2d(cfg.in_channels, cfg.hidden_dim, cfg.patch_size, stride=cfg.patch_size)
        self.noise_embed = NoiseLevelEmbedding(256, cfg.hidden_dim)
        self.blocks = nn.ModuleList(
            DiTBlock(cfg.hidden_dim, cfg.heads, cfg.mlp_ratio, cfg.context_dim) for _ in range(cfg.depth)
        )
        self.final = FinalLayer(cfg.hidden_dim, cfg.patch_size**2 * cfg.out_channels)
        self._initialise()

    def _initialise(self) -> None:
        """Xavier-uniform linears (as DiT), then zero the gates, cross-attention outputs and final layer."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        zeroed = [self.final.ada_ln[-1], self.final.linear]
        for block in self.blocks:
            zeroed.append(block.ada_ln[-1])
            if block.cross_attn is not None:
                zeroed.append(block.cross_attn.to_out)
        for module in zeroed:
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        n, _, height, width = self._check_input(x)
        check_context(context, context_mask, n, self.cfg.context_dim)
        p = self.cfg.patch_size
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, T, D), T = (H/p)*(W/p)
        positions = grid_position_embedding(height // p, width // p, self.cfg.hidden_dim, x.device)  # (T, D)
        tokens = tokens + positions.to(tokens.dtype)
        c = self.noise_embed(check_noise_level(noise_level, n).to(x.device))  # (N, D)
        for block in self.blocks:
            tokens = block(tokens, c, context, context_mask)
        patches = self.final(tokens, c)  # (N, T, p*p*C_out)
        return self._unpatchify(patches, height, width)

    def _unpatchify(self, patches: torch.Tensor, height: int, width: int) -> torch.Tensor:
        p, c_out = self.cfg.patch_size, self.cfg.out_channels
        n = patches.shape[0]
        grid = patches.reshape(n, height // p, width // p, p, p, c_out)  # (N, h, w, p, p, C)
        return grid.permute(0, 5, 1, 3, 2, 4).reshape(n, c_out, height, width)  # (N, C, H, W)

    def _check_input(self, x: torch.Tensor) -> torch.Size:
        p = self.cfg.patch_size
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"x must have shape (N, {self.cfg.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % p or x.shape[3] % p:
            raise ValueError(f"height and width must be multiples of patch_size={p}, got {tuple(x.shape[2:])}")
        return x.shape
