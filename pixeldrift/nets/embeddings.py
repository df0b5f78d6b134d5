"""Noise-level embeddings shared by the denoisers.

The adapters of `pixeldrift.diffusion` pass whatever scalar their
parameterization uses (a DDPM timestep in [0, 1000), EDM's c_noise = ln(sigma)/4,
1000 * t for flow matching), so the embedding accepts any real number.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(values: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Embed real scalars as [cos(v * w_i), sin(v * w_i)] with geometric frequencies w_i.

    The transformer position encoding (Vaswani et al. 2017, sec. 3.5), used for
    diffusion time by Ho et al. 2020: frequencies run from 1 down to 1/max_period.
    values: (N,) float; returns (N, dim). An odd `dim` gets one zero column.
    """
    if values.ndim != 1:
        raise ValueError(f"noise levels must be a 1-D tensor (N,), got shape {tuple(values.shape)}")
    half = dim // 2
    exponents = torch.arange(half, device=values.device, dtype=torch.float32) / half
    frequencies = torch.exp(-math.log(max_period) * exponents)  # (half,)
    angles = values.float()[:, None] * frequencies[None, :]  # (N, half)
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (N, 2*half)
    if dim % 2:
        embedding = nn.functional.pad(embedding, (0, 1))
    return embedding


class NoiseLevelEmbedding(nn.Module):
    """Sinusoidal features of the noise level followed by a two-layer MLP (SiLU)."""

    def __init__(self, frequency_dim: int, out_dim: int) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, noise_level: torch.Tensor) -> torch.Tensor:
        features = sinusoidal_embedding(noise_level, self.frequency_dim)  # (N, F)
        return self.mlp(features.to(self.mlp[0].weight.dtype))  # (N, out_dim)


def check_noise_level(noise_level: torch.Tensor, batch: int) -> torch.Tensor:
    """Accept a (N,) tensor, or a 0-d tensor / float broadcast to the batch."""
    noise_level = torch.as_tensor(noise_level, dtype=torch.float32)
    if noise_level.ndim == 0:
        noise_level = noise_level.expand(batch)
    if noise_level.shape != (batch,):
        raise ValueError(f"noise_level must have shape ({batch},) to match x, got {tuple(noise_level.shape)}")
    return noise_level
