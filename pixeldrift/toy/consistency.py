"""Consistency models on 2-D points: distilled from any denoiser, or trained from data alone.

A consistency model f(x, sigma) maps every point of a probability-flow ODE trajectory to
the trajectory's end, so one call turns noise into a sample (Song, Dhariwal, Chen &
Sutskever 2023, "Consistency Models"). It is a denoiser in sigma space like every other
model here, with the skip parameterisation that makes f(x, sigma_min) = x exact (their
eq. 5 with the c_skip, c_out of their Appendix C).

Two ways to train it, both comparing the model at two neighbouring noise levels
sigma_n < sigma_{n+1} on one trajectory:
  distillation (CD, their Algorithm 2): x_{n+1} = x0 + sigma_{n+1} z, and x_n is one Heun
      step of a teacher's ODE from there; the teacher is any pixeldrift denoiser
      (eps, v, EDM or flow: only D(x, sigma) is called).
  training (CT, their Algorithm 3): no teacher; x_n = x0 + sigma_n z with the same z.
CT here takes the improvements of Song & Dhariwal 2023 ("Improved Techniques for Training
Consistency Models", iCT): the target is the model itself under stop-gradient (no EMA
teacher), the pseudo-Huber distance, lognormal sampling of the interval n, the weight
1 / (sigma_{n+1} - sigma_n), and a discretisation that doubles from s0 to s1 intervals.
Multistep sampling alternates a jump to the end and fresh noise (their Algorithm 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.diffusion.losses import pseudo_huber
from pixeldrift.diffusion.parameterization import Denoiser
from pixeldrift.sampling.samplers import sample_consistency  # noqa: F401  (Algorithm 1, the toy's sampler too)
from pixeldrift.sampling.sigma_schedules import karras_sigmas
from pixeldrift.toy.model import EDM_TIME_FACTOR, TimeMLP, check_optimisation, optimise


@dataclass
class ConsistencyConfig:
    sigma_min: float = 0.002     # epsilon of Song et al. 2023: the trajectory's end
    sigma_max: float = 80.0      # T: where sampling starts
    sigma_data: float = 1.0      # the toy data is normalised to standard deviation 1
    rho: float = 7.0             # Karras et al. 2022's spacing of the noise levels
    steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 2e-3  # the lab's rate; on the swiss roll at ~700 steps it beat 1e-3 for CD and CT
    lr_decay: bool = True
    hidden: int = 128
    depth: int = 4
    embed_dim: int = 64
    teacher_intervals: int = 40  # CD: N, the teacher's ODE steps (Song et al. use 18 on CIFAR-10; in 2-D
                                 # 18 left 8-step samples at sliced W 0.12 on the checkerboard, 40 at 0.056)
    start_intervals: int = 10    # CT: iCT's s0 ...
    end_intervals: int = 1280    # ... and s1: the discretisation doubles from s0 to s1 intervals
    p_mean: float = -1.1         # CT: iCT's lognormal choice of the interval
    p_std: float = 2.0
    huber_c: float | None = None  # pseudo-Huber c; None: iCT's 0.00054 sqrt(d)
    seed: int = 0

    def check(self) -> None:
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")
        check_optimisation(self.steps, self.batch_size, self.learning_rate)
        if self.teacher_intervals < 1 or not 1 <= self.start_intervals <= self.end_intervals:
            raise ValueError("need teacher_intervals >= 1 and 1 <= start_intervals <= end_intervals")


class ConsistencyModel(Denoiser):
    """f(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma)) (Song et al. 2023, eq. 5).

    c_skip = sigma_data^2 / ((sigma - sigma_min)^2 + sigma_data^2) and
    c_out = sigma_data (sigma - sigma_min) / sqrt(sigma_data^2 + sigma^2) (their Appendix C): at
    sigma_min c_skip = 1 and c_out = 0, so f(x, sigma_min) = x whatever the network says.
    c_in and c_noise = ln(sigma) / 4 are EDM's.
    """

    def __init__(self, net, sigma_min: float = 0.002, sigma_data: float = 1.0):
        super().__init__(net)
        self.sigma_min = sigma_min
        self.sigma_data = sigma_data

    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma**2 + self.sigma_data**2).rsqrt()

    def noise_level(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma.log() / 4

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        sd2 = self.sigma_data**2
        s = append_dims(sigma, x.ndim)
        c_skip = sd2 / ((s - self.sigma_min) ** 2 + sd2)
        c_out = self.sigma_data * (s - self.sigma_min) * (s**2 + sd2).rsqrt()
        return c_skip * x + c_out * self.net(x * append_dims(self.input_scale(sigma), x.ndim),
                                             self.noise_level(sigma), **cond)


def build_consistency_model(config: ConsistencyConfig) -> ConsistencyModel:
    config.check()
    torch.manual_seed(config.seed)
    net = TimeMLP(config.hidden, config.depth, EDM_TIME_FACTOR, embed_dim=config.embed_dim)
    return ConsistencyModel(net, config.sigma_min, config.sigma_data)


def noise_levels(intervals: int, config: ConsistencyConfig) -> torch.Tensor:
    """sigma_1 < ... < sigma_{N+1}: N intervals from sigma_min to sigma_max, evenly spaced in sigma^(1/rho)
    (Karras et al. 2022, eq. 5, as Song et al. 2023 discretise their time axis)."""
    ramp = torch.linspace(0, 1, intervals + 1, dtype=torch.float64)
    lo, hi = config.sigma_min ** (1 / config.rho), config.sigma_max ** (1 / config.rho)
    return ((lo + ramp * (hi - lo)) ** config.rho).float()


def _huber_c(config: ConsistencyConfig, dims: int) -> float:
    return config.huber_c if config.huber_c is not None else 0.00054 * math.sqrt(dims)


def _heun_step(teacher, x: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
    """One Heun step of dx/dsigma = (x - D(x, sigma)) / sigma (Karras et al. 2022, Algorithm 1), per sample."""
    s, s_next = sigma[:, None], sigma_next[:, None]
    slope = (x - teacher(x, sigma)) / s
    guess = x + (s_next - s) * slope
    return x + (s_next - s) * (slope + (guess - teacher(guess, sigma_next)) / s_next) / 2


def distill_consistency(teacher, sample, config: ConsistencyConfig, on_step=None) -> ConsistencyModel:
    """Consistency distillation (Song et al. 2023, Algorithm 2) from any denoiser `teacher(x, sigma)`.

    Loss: d(f(x_{n+1}, sigma_{n+1}), stopgrad f(x_n_hat, sigma_n)) / (sigma_{n+1} - sigma_n), with x_n_hat
    one Heun step of the teacher's ODE from x_{n+1} = x0 + sigma_{n+1} z, n uniform over the teacher's
    N intervals, d the pseudo-Huber distance. The weight is iCT's (made for CT, it helps CD too: on
    the checkerboard one-step sliced W fell from 0.087 to 0.055). `sample(n, generator)` gives data points.
    """
    model = build_consistency_model(config)
    levels = noise_levels(config.teacher_intervals, config)
    generator = torch.Generator().manual_seed(config.seed)
    c = None

    def batch_loss(step: int) -> torch.Tensor:
        nonlocal c
        x0 = sample(config.batch_size, generator)
        c = c or _huber_c(config, x0[0].numel())
        n = torch.randint(0, config.teacher_intervals, (config.batch_size,), generator=generator)
        sigma, sigma_next = levels[n], levels[n + 1]
        x_next = x0 + sigma_next[:, None] * torch.randn(x0.shape, generator=generator)
        with torch.no_grad():
            target = model(_heun_step(teacher, x_next, sigma_next, sigma), sigma)
        return (pseudo_huber(model(x_next, sigma_next), target, c) / (sigma_next - sigma)).mean()

    optimise(model, batch_loss, config.steps, config.learning_rate, config.lr_decay, on_step=on_step)
    return model.eval()


def ict_intervals(step: int, total_steps: int, start: int, end: int) -> int:
    """iCT's discretisation curriculum: N(k) = min(s0 * 2^floor(k / K'), s1), K' = floor(K / (log2(s1/s0) + 1))."""
    stage = max(1, total_steps // (int(math.log2(end / start)) + 1))
    return min(start * 2 ** (step // stage), end)


def lognormal_interval_weights(levels: torch.Tensor, p_mean: float, p_std: float) -> torch.Tensor:
    """The lognormal's mass on each interval (iCT): p(n) proportional to
    erf((ln sigma_{n+1} - P_mean) / (sqrt 2 P_std)) - erf((ln sigma_n - P_mean) / (sqrt 2 P_std))."""
    cdf = torch.erf((levels.double().log() - p_mean) / (math.sqrt(2) * p_std))
    weights = cdf[1:] - cdf[:-1]
    return (weights / weights.sum()).float()


def train_consistency(sample, config: ConsistencyConfig, on_step=None) -> ConsistencyModel:
    """Consistency training without a teacher (Song et al. 2023, Algorithm 3) with iCT's improvements.

    x_n = x0 + sigma_n z and x_{n+1} = x0 + sigma_{n+1} z share z: their difference is the one-sample
    estimate of the ODE step. Loss: (1 / (sigma_{n+1} - sigma_n)) d(f(x_{n+1}), stopgrad f(x_n)).
    """
    model = build_consistency_model(config)
    generator = torch.Generator().manual_seed(config.seed)
    by_intervals: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    c = None

    def batch_loss(step: int) -> torch.Tensor:
        nonlocal c
        intervals = ict_intervals(step, config.steps, config.start_intervals, config.end_intervals)
        if intervals not in by_intervals:
            levels = noise_levels(intervals, config)
            by_intervals[intervals] = levels, lognormal_interval_weights(levels, config.p_mean, config.p_std)
        levels, weights = by_intervals[intervals]
        x0 = sample(config.batch_size, generator)
        c = c or _huber_c(config, x0[0].numel())
        n = torch.multinomial(weights, config.batch_size, replacement=True, generator=generator)
        sigma, sigma_next = levels[n], levels[n + 1]
        z = torch.randn(x0.shape, generator=generator)
        with torch.no_grad():
            target = model(x0 + sigma[:, None] * z, sigma)
        distance = pseudo_huber(model(x0 + sigma_next[:, None] * z, sigma_next), target, c)
        return (distance / (sigma_next - sigma)).mean()

    optimise(model, batch_loss, config.steps, config.learning_rate, config.lr_decay, on_step=on_step)
    return model.eval()


# ----- sampling ----------------------------------------------------------------------------

def consistency_sigmas(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> torch.Tensor:
    """The noise levels of multistep sampling, then 0: sigma_max and steps - 1 levels below it,
    Karras-spaced towards sigma_min (which is not visited: f is the identity there)."""
    return torch.cat([karras_sigmas(steps + 1, sigma_min, sigma_max, rho)[:steps], torch.zeros(1)])
