"""Networks whose output is exact for Gaussian-mixture data, in each parameterization's own convention.

They let the tests check adapters and samplers against closed forms, and give
diffusers' schedulers and ours the very same model function in the benchmarks.
"""

from __future__ import annotations

import torch

from pixeldrift.diffusion.gaussian_mixture import GaussianMixture
from pixeldrift.diffusion.schedules import DiscreteSchedule


class VPNetwork(torch.nn.Module):
    """Predicts eps or v from the VP input x_t and a (fractional) timestep, exactly."""

    def __init__(self, mixture: GaussianMixture, schedule: DiscreteSchedule, prediction: str = "eps"):
        super().__init__()
        self.mixture, self.schedule, self.prediction = mixture, schedule, prediction

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64).expand(x_t.shape[0])
        sigma = self.schedule.sigma(t).to(x_t.dtype)
        s = sigma.reshape(-1, *([1] * (x_t.ndim - 1)))
        x = x_t * (1 + s**2).sqrt()
        x0 = self.mixture.denoise(x, sigma)
        eps = (x - x0) / s
        if self.prediction == "eps":
            return eps
        alpha, sigma_vp = (1 + s**2).rsqrt(), s * (1 + s**2).rsqrt()
        return alpha * eps - sigma_vp * x0


class FlowNetwork(torch.nn.Module):
    """Predicts the flow velocity v = eps - x0 from x_t and t * 1000, exactly."""

    def __init__(self, mixture: GaussianMixture):
        super().__init__()
        self.mixture = mixture

    def forward(self, x_t: torch.Tensor, t_scaled: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t_scaled, dtype=x_t.dtype).expand(x_t.shape[0]) / 1000
        tt = t.reshape(-1, *([1] * (x_t.ndim - 1)))
        x0 = self.mixture.denoise(x_t / (1 - tt), t / (1 - t))
        return (x_t - x0) / tt  # x_t = x0 + t v


class EDMNetwork(torch.nn.Module):
    """The raw network F of EDM preconditioning: F = (D - c_skip x) / c_out, fed c_in x and c_noise."""

    def __init__(self, mixture: GaussianMixture, sigma_data: float = 0.5):
        super().__init__()
        self.mixture, self.sigma_data = mixture, sigma_data

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        sigma = (4 * c_noise).exp()
        s = sigma.reshape(-1, *([1] * (x_in.ndim - 1)))
        sd2 = self.sigma_data**2
        x = x_in * (s**2 + sd2).sqrt()
        c_skip, c_out = sd2 / (s**2 + sd2), s * self.sigma_data / (s**2 + sd2).sqrt()
        return (self.mixture.denoise(x, sigma) - c_skip * x) / c_out
