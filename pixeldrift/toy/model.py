"""The toy lab's network: a small MLP that learns to denoise 2-D points, with EDM preconditioning."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.diffusion.losses import denoising_loss, lognormal_sigma_sampler
from pixeldrift.diffusion.parameterization import EDMDenoiser


class FourierEmbedding(nn.Module):
    """sin/cos of the noise level at fixed log-spaced frequencies."""

    def __init__(self, dim: int = 32):
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(64), dim // 2)))

    def forward(self, noise_level: torch.Tensor) -> torch.Tensor:
        angles = noise_level[:, None] * self.freqs  # (N, dim/2)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (N, dim)


class PointMLP(nn.Module):
    """F(x_in, c_noise) for points in 2-D: the raw network inside EDMDenoiser."""

    def __init__(self, hidden: int = 128, depth: int = 3, embed_dim: int = 32):
        super().__init__()
        self.embed = FourierEmbedding(embed_dim)
        layers: list[nn.Module] = [nn.Linear(2 + embed_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, 2))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([x, self.embed(noise_level)], dim=1))  # (N, 2)


@dataclass
class ToyTrainingConfig:
    steps: int = 3000
    batch_size: int = 1024
    learning_rate: float = 3e-3
    sigma_data: float = 1.0  # points are standardised to unit standard deviation
    p_mean: float = -0.6     # ln(sigma) ~ N(p_mean, p_std^2): EDM's -1.2 shifted for sigma_data = 1
    p_std: float = 1.4
    seed: int = 0


def train_point_denoiser(sample_points, config: ToyTrainingConfig, on_step=None) -> EDMDenoiser:
    """Train with the EDM loss; `sample_points(n, generator)` supplies fresh data every step."""
    if config.steps < 1 or config.batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {config.steps} and {config.batch_size}")
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_flush_denormal(True)  # denormal floats in Adam's moments are ~100x slower on CPUs
    denoiser = EDMDenoiser(PointMLP(), sigma_data=config.sigma_data)
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
    draw_sigma = lognormal_sigma_sampler(config.p_mean, config.p_std)
    for step in range(config.steps):
        x0 = sample_points(config.batch_size, generator)
        noise = torch.randn(x0.shape, generator=generator)
        loss = denoising_loss(denoiser, x0, draw_sigma(config.batch_size, generator), noise).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if on_step is not None:
            on_step(step, loss.item())
    return denoiser.eval()
