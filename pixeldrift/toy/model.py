"""The toy lab's network and training: a time-modulated MLP inside any of the four denoiser adapters.

The MLP is the backbone `net(x_in, noise_level, class_label=None)` that
pixeldrift.diffusion.parameterization wraps, so eps (DDPM), v, EDM and flow models
train with the same losses and sample with the same samplers as the image models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from pixeldrift.diffusion.losses import (denoising_loss, discrete_sigma_sampler, lognormal_sigma_sampler,
                                         logit_normal_flow_sigma_sampler, uniform_flow_sigma_sampler)
from pixeldrift.diffusion.parameterization import PARAMETERIZATIONS, Denoiser
from pixeldrift.diffusion.schedules import BETA_SCHEDULES, DiscreteSchedule

OBJECTIVES = tuple(PARAMETERIZATIONS)  # eps, v, edm, flow

# What each adapter feeds the network's time input (its "noise_level"), and the factor that
# brings it to the 0..1000 span the sinusoidal frequencies (1 .. 1/10000 a unit) are made for:
#   eps, v: the fractional training timestep t in 0 .. T-1 (T = 1000 here)    x 1000 / T
#   flow:   flow time t in [0, 1] times FlowDenoiser.time_scale = 1000       x 1
#   edm:    c_noise = ln(sigma) / 4, about -1.3 .. 0.8 for sigma 0.005 .. 20  x 250
EDM_TIME_FACTOR = 250.0


def time_factor(objective: str, num_timesteps: int = 1000) -> float:
    return {"eps": 1000 / num_timesteps, "v": 1000 / num_timesteps, "flow": 1.0, "edm": EDM_TIME_FACTOR}[objective]


def sinusoidal_embedding(u: torch.Tensor, dim: int) -> torch.Tensor:
    """cos/sin of u at frequencies 10000^(-i/half), i < half (Vaswani et al. 2017; DDPM's timestep embedding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=u.device) / half)
    angles = u.float()[:, None] * freqs  # (N, half)
    return torch.cat([angles.cos(), angles.sin()], dim=1)  # (N, dim)


class TimeMLP(nn.Module):
    """An MLP whose every hidden layer is scaled and shifted by the noise level (FiLM, Perez et al. 2018).

    h <- SiLU(W h * (1 + scale(e)) + shift(e)), with e the embedding of the time input (plus
    the class label's, when there are classes; label `num_classes` is "no label", for CFG).
    Feeding time only at the input, as a plain MLP does, underfits at small budgets: the
    network then has to learn a different map per noise level from one concatenated number.
    """

    def __init__(self, hidden: int = 128, depth: int = 4, time_factor: float = 1.0, num_classes: int = 0,
                 embed_dim: int = 64):
        super().__init__()
        self.time_factor = time_factor
        self.embed_dim = embed_dim
        self.num_classes = num_classes
        self.time = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.label = nn.Embedding(num_classes + 1, embed_dim) if num_classes else None
        self.linears = nn.ModuleList([nn.Linear(2, hidden)] + [nn.Linear(hidden, hidden) for _ in range(depth - 1)])
        self.films = nn.ModuleList(nn.Linear(embed_dim, 2 * hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, class_label: torch.Tensor | None = None):
        # samplers pass one noise level for the whole batch: embed it once, not N times
        same = len(noise_level) > 1 and bool((noise_level == noise_level[0]).all())
        level = noise_level[:1] if same else noise_level
        e = self.time(sinusoidal_embedding(level * self.time_factor, self.embed_dim))  # (1 or N, embed_dim)
        if self.label is not None:
            if class_label is None:
                class_label = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
            e = e + self.label(class_label)  # (N, embed_dim)
        e = F.silu(e)
        h = x
        for linear, film in zip(self.linears, self.films):
            scale, shift = film(e).chunk(2, dim=1)  # (1 or N, hidden) each
            h = F.silu(torch.addcmul(shift, linear(h), 1 + scale))  # (N, hidden)
        return self.out(h)  # (N, 2)


def check_optimisation(steps: int, batch_size: int, learning_rate: float) -> None:
    """The settings every toy trainer shares, refused before any work when they cannot train."""
    if steps < 1 or batch_size < 2 or not learning_rate > 0:
        raise ValueError(f"need steps >= 1, batch size >= 2 and a positive learning rate, got "
                         f"{steps}, {batch_size} and {learning_rate}")


@dataclass
class ToyTrainingConfig:
    """How the lab trains. The defaults are the lab's own quick EDM setup; see course.py for the course's."""

    objective: str = "edm"              # eps | v | edm | flow
    schedule: str = "linear"            # eps and v: the VP beta schedule (linear, scaled_linear, cosine)
    num_timesteps: int = 1000
    beta_start: float = 1e-4            # DDPM's linear betas (Ho et al. 2020)
    beta_end: float = 0.02
    flow_times: str = "uniform"         # flow: uniform t, or logit_normal (SD3)
    sigma_data: float = 1.0             # edm: the data's standard deviation (1 after standardising)
    p_mean: float = -0.6                # edm: ln(sigma) ~ N(p_mean, p_std^2), EDM's -1.2 shifted for sigma_data = 1
    p_std: float = 1.4
    steps: int = 3000
    batch_size: int = 512
    learning_rate: float = 2e-3
    lr_decay: bool = True               # cosine decay to 0 over the run; False keeps it constant
    ema: float = 0.0                    # > 0: sample with an exponential moving average of the weights
    label_dropout: float = 0.1          # with classes: the share of labels replaced by "no label" (for CFG)
    hidden: int = 128
    depth: int = 4                      # 3 hidden layers put ~5% of DDIM's swiss-roll samples between the arms
    embed_dim: int = 64                 # the width of the time (and label) embedding
    seed: int = 0

    def check(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; accepted: {', '.join(OBJECTIVES)}")
        if self.schedule not in BETA_SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; accepted: {', '.join(BETA_SCHEDULES)}")
        if self.flow_times not in ("uniform", "logit_normal"):
            raise ValueError(f"unknown flow time sampler {self.flow_times!r}; accepted: uniform, logit_normal")
        check_optimisation(self.steps, self.batch_size, self.learning_rate)
        if not 0 <= self.ema < 1:
            raise ValueError(f"the EMA decay must be in [0, 1), got {self.ema}")
        if not 0 <= self.label_dropout < 1:
            raise ValueError(f"label dropout must be in [0, 1), got {self.label_dropout}")

    def discrete_schedule(self) -> DiscreteSchedule | None:
        """The VP schedule of eps and v models; EDM and flow models have none."""
        if self.objective not in ("eps", "v"):
            return None
        return DiscreteSchedule.named(self.schedule, self.num_timesteps, self.beta_start, self.beta_end)


def build_denoiser(config: ToyTrainingConfig, num_classes: int = 0) -> Denoiser:
    """A fresh TimeMLP wrapped in the objective's adapter."""
    config.check()
    net = TimeMLP(config.hidden, config.depth, time_factor(config.objective, config.num_timesteps), num_classes,
                  config.embed_dim)
    if config.objective in ("eps", "v"):
        return PARAMETERIZATIONS[config.objective](net, config.discrete_schedule())
    if config.objective == "edm":
        return PARAMETERIZATIONS["edm"](net, sigma_data=config.sigma_data)
    return PARAMETERIZATIONS["flow"](net)


def training_sigmas(config: ToyTrainingConfig):
    """How the objective draws its training noise levels."""
    if config.objective in ("eps", "v"):
        return discrete_sigma_sampler(config.discrete_schedule())  # uniform integer timesteps, as DDPM
    if config.objective == "edm":
        return lognormal_sigma_sampler(config.p_mean, config.p_std)
    if config.flow_times == "uniform":
        return uniform_flow_sigma_sampler()  # Lipman et al. 2023
    return logit_normal_flow_sigma_sampler()


def train_denoiser(sample_labelled, config: ToyTrainingConfig, num_classes: int = 0, on_step=None) -> Denoiser:
    """Train on fresh data every step: `sample_labelled(n, generator)` gives (points, labels or None)."""
    torch.manual_seed(config.seed)  # the initial weights: same seed, same model
    denoiser = build_denoiser(config, num_classes)
    generator = torch.Generator().manual_seed(config.seed)
    draw_sigma = training_sigmas(config)
    null = torch.tensor(num_classes)

    def batch_loss(step: int) -> torch.Tensor:
        x0, labels = sample_labelled(config.batch_size, generator)
        cond = {}
        if num_classes:
            dropped = torch.rand(config.batch_size, generator=generator) < config.label_dropout
            cond = {"class_label": torch.where(dropped, null, labels)}
        noise = torch.randn(x0.shape, generator=generator)
        return denoising_loss(denoiser, x0, draw_sigma(config.batch_size, generator), noise, **cond).mean()

    optimise(denoiser, batch_loss, config.steps, config.learning_rate, config.lr_decay, config.ema, on_step)
    return denoiser.eval()


def optimise(module: nn.Module, batch_loss, steps: int, learning_rate: float, lr_decay: bool = True,
             ema: float = 0.0, on_step=None, betas: tuple[float, float] = (0.9, 0.999)) -> nn.Module:
    """Adam on every parameter of `module` for `steps` steps of `batch_loss(step) -> scalar loss`.

    The learning rate decays along a cosine to 0 when `lr_decay`; with `ema` > 0 the
    module ends with the exponential moving average of its weights. `on_step(step, loss)`
    sees every loss. Every toy trainer (diffusion, reflow, consistency, VAE) runs this loop.
    """
    torch.set_flush_denormal(True)  # denormal floats in Adam's moments are ~100x slower on CPUs
    weights = list(module.parameters())
    optimizer = torch.optim.Adam(weights, lr=learning_rate, betas=betas, fused=True)  # one kernel, not 18
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) if lr_decay else None
    averages = [w.detach().clone() for w in weights] if ema else None
    for step in range(steps):
        loss = batch_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if decay is not None:
            decay.step()
        if averages is not None:
            with torch.no_grad():
                for average, weight in zip(averages, weights):
                    average.lerp_(weight, 1 - ema)
        if on_step is not None:
            on_step(step, loss.item())
    if averages is not None:
        with torch.no_grad():
            for average, weight in zip(averages, weights):
                weight.copy_(average)
    return module
