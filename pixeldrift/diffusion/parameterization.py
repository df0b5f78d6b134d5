"""Adapters that turn any network into one denoiser D(x, sigma, **cond) -> x0_hat.

Every sampler in pixeldrift sees only that denoiser, in sigma space
(x = x0 + sigma * eps, Karras et al. 2022). Each adapter says three things:

    forward(x, sigma, **cond)  the estimate of the clean x0
    input_scale(sigma)         c_in: what the network's input is multiplied by;
                               the prior for sampling is noise / c_in(sigma_max),
                               so the network starts from unit-variance input
    noise_level(sigma)         what the network's time embedding is fed; with
                               input_scale, what a ControlNet beside the network sees
    loss_weight(sigma)         the weight that turns ||D - x0||^2 into the
                               network's own objective (eps-MSE, v-MSE, ...)

A backbone network is called as net(x_in, noise_level, **cond), where
noise_level is what that parameterization feeds its time embedding.
"""

from __future__ import annotations

import torch
from torch import nn

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.diffusion.schedules import DiscreteSchedule


class Denoiser(nn.Module):
    """Base class: wraps a backbone `net`; subclasses give the preconditioning."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def noise_level(self, sigma: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class EpsDenoiser(Denoiser):
    """A VP network that predicts the noise eps from x_t and a discrete timestep (DDPM, SD 1.x).

    x_t = x / sqrt(1 + sigma^2) and x0 = x - sigma * eps. `quantize` rounds the
    timestep to the nearest integer, as models trained on integer t expect.
    """

    def __init__(self, net: nn.Module, schedule: DiscreteSchedule, quantize: bool = False):
        super().__init__(net)
        self.schedule = schedule
        self.quantize = quantize

    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        return (1 + sigma**2).rsqrt()

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma**-2  # ||x0_hat - x0||^2 = sigma^2 ||eps_hat - eps||^2

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        t = self.schedule.timestep(sigma)
        return t.round() if self.quantize else t

    def noise_level(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.timestep(sigma)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        c_in = append_dims(self.input_scale(sigma), x.ndim)
        eps = self.net(x * c_in, self.noise_level(sigma), **cond)
        return torch.addcmul(x, append_dims(sigma, x.ndim), eps, value=-1)  # x - sigma * eps, one pass


class VDenoiser(EpsDenoiser):
    """A VP network that predicts the velocity v = alpha eps - sigma_vp x0 (Salimans & Ho 2022; SD 2.x-v).

    With alpha = 1/sqrt(1+sigma^2) and sigma_vp = sigma/sqrt(1+sigma^2):
    x0 = alpha x_t - sigma_vp v = x / (1 + sigma^2) - sigma / sqrt(1 + sigma^2) * v.
    """

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return (1 + sigma**2) / sigma**2

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        c_in = append_dims(self.input_scale(sigma), x.ndim)
        v = self.net(x * c_in, self.noise_level(sigma), **cond)
        s = append_dims(sigma, x.ndim)
        return x * c_in**2 - s * c_in * v


class EDMDenoiser(Denoiser):
    """A network with EDM preconditioning (Karras et al. 2022, Table 1).

    D = c_skip x + c_out F(c_in x, c_noise) with sigma_data the data's standard deviation.
    """

    def __init__(self, net: nn.Module, sigma_data: float = 0.5):
        super().__init__(net)
        self.sigma_data = sigma_data

    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma**2 + self.sigma_data**2).rsqrt()

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def noise_level(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma.log() / 4  # c_noise

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        sd2 = self.sigma_data**2
        s = append_dims(sigma, x.ndim)
        c_skip = sd2 / (s**2 + sd2)
        c_out = s * self.sigma_data * (s**2 + sd2).rsqrt()
        c_in = (s**2 + sd2).rsqrt()
        return c_skip * x + c_out * self.net(x * c_in, self.noise_level(sigma), **cond)


class FlowDenoiser(Denoiser):
    """A rectified-flow network predicting the velocity v = eps - x0 of x_t = (1 - t) x0 + t eps.

    In sigma space t = sigma / (1 + sigma) and x_t = x / (1 + sigma); then
    x0 = x_t - t v. The network sees t * time_scale (1000 in SD3-style models).
    """

    def __init__(self, net: nn.Module, time_scale: float = 1000.0):
        super().__init__(net)
        self.time_scale = time_scale

    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        return 1 / (1 + sigma)

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return ((1 + sigma) / sigma) ** 2  # x0_hat - x0 = -t (v_hat - v)

    def noise_level(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma * self.input_scale(sigma) * self.time_scale  # t * time_scale, as forward computes t

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        c_in = self.input_scale(sigma)
        t = sigma * c_in  # = flow_t_from_sigma(sigma), reusing c_in
        x_t = x * append_dims(c_in, x.ndim)
        v = self.net(x_t, t * self.time_scale, **cond)
        return torch.addcmul(x_t, append_dims(t, x.ndim), v, value=-1)  # x_t - t v


PARAMETERIZATIONS = {"eps": EpsDenoiser, "v": VDenoiser, "edm": EDMDenoiser, "flow": FlowDenoiser}
