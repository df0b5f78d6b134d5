"""Training objectives: pick sigma, add noise, ask the denoiser, weighted squared error.

All four objectives (eps, v, EDM x0, flow matching) are the same loss in sigma
space, ||D(x0 + sigma eps, sigma) - x0||^2, with the weight of the denoiser's
parameterization (`Denoiser.loss_weight`), which makes it exactly the MSE on the
network's own target. What differs is how training sigmas are drawn.
"""

from __future__ import annotations

from typing import Callable

import torch

from pixeldrift.diffusion.forward import add_noise
from pixeldrift.diffusion.parameterization import Denoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule, flow_sigma_from_t, flow_time_shift

SigmaSampler = Callable[[int, torch.Generator | None], torch.Tensor]


def discrete_sigma_sampler(schedule: DiscreteSchedule) -> SigmaSampler:
    """Uniform integer timesteps, as DDPM and Stable Diffusion were trained."""
    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        t = torch.randint(0, schedule.num_timesteps, (n,), generator=generator)
        return schedule.sigmas[t].float()
    return sample


def lognormal_sigma_sampler(p_mean: float = -1.2, p_std: float = 1.2) -> SigmaSampler:
    """ln(sigma) ~ N(P_mean, P_std^2) (Karras et al. 2022, Table 1)."""
    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return (torch.randn(n, generator=generator) * p_std + p_mean).exp()
    return sample


def logit_normal_flow_sigma_sampler(mean: float = 0.0, std: float = 1.0, shift: float = 1.0,
                                    t_max: float = 1 - 1e-4) -> SigmaSampler:
    """Flow time t = sigmoid(N(mean, std^2)), optionally shifted (Esser et al. 2024, SD3)."""
    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        t = torch.sigmoid(torch.randn(n, generator=generator) * std + mean)
        t = flow_time_shift(t, shift).clamp(1e-4, t_max)
        return flow_sigma_from_t(t)
    return sample


def uniform_flow_sigma_sampler(t_min: float = 1e-4, t_max: float = 1 - 1e-4) -> SigmaSampler:
    """Flow time t uniform on [t_min, t_max] (Lipman et al. 2023; Liu et al. 2023), in sigma space.

    The ends are cut as the logit-normal sampler's are: t = 1 would be an infinite sigma.
    """
    if not 0 < t_min < t_max < 1:
        raise ValueError(f"need 0 < t_min < t_max < 1, got t_min={t_min}, t_max={t_max}")

    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return flow_sigma_from_t(t_min + (t_max - t_min) * torch.rand(n, generator=generator))
    return sample


def denoising_loss(
    denoiser: Denoiser,
    x0: torch.Tensor,
    sigma: torch.Tensor,
    noise: torch.Tensor,
    **cond,
) -> torch.Tensor:
    """Per-sample loss, shape (N,): weight(sigma) * mean ||D(x0 + sigma eps, sigma) - x0||^2."""
    x0_hat = denoiser(add_noise(x0, sigma, noise), sigma, **cond)
    squared_error = (x0_hat - x0).pow(2).flatten(1).mean(1)
    return denoiser.loss_weight(sigma) * squared_error


def pseudo_huber(a: torch.Tensor, b: torch.Tensor, c: float) -> torch.Tensor:
    """sqrt(||a - b||^2 + c^2) - c per sample: like ||a - b||^2 / 2c near 0, like ||a - b|| far away
    (the consistency models' distance, iCT: Song & Dhariwal 2023, section 3.3)."""
    return ((a - b).pow(2).flatten(1).sum(1) + c * c).sqrt() - c
