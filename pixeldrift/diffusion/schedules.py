"""Noise schedules and the conversions between timesteps, alphas and sigmas.

Notation (one line per symbol, used across pixeldrift):
    t          discrete training timestep, 0 .. T-1 (VP models) or flow time in [0, 1]
    beta_t     per-step variance of the VP forward chain (Ho et al. 2020)
    alpha_bar  cumulative product of (1 - beta): x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps
    sigma      noise level in "sigma space": x = x0 + sigma * eps (Karras et al. 2022)
               sigma = sqrt((1 - alpha_bar) / alpha_bar), so x = x_t / sqrt(alpha_bar)

Every model is driven in sigma space; this module is where the other
conventions are translated into it.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import torch

BETA_SCHEDULES = ("linear", "scaled_linear", "cosine")


def vp_betas(
    name: str,
    num_timesteps: int = 1000,
    beta_start: float = 0.00085,
    beta_end: float = 0.012,
) -> torch.Tensor:
    """Betas of a variance-preserving schedule, float64, shape (T,).

    linear:        Ho et al. 2020 (DDPM uses beta_start=1e-4, beta_end=0.02)
    scaled_linear: linear in sqrt(beta), as in Stable Diffusion (0.00085 .. 0.012)
    cosine:        Nichol & Dhariwal 2021, alpha_bar(t) = cos^2((t/T + s)/(1 + s) * pi/2), capped at 0.999
    """
    if num_timesteps < 2:
        raise ValueError(f"num_timesteps must be at least 2, got {num_timesteps}")
    if name == "linear":
        return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    if name == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_timesteps, dtype=torch.float64) ** 2
    if name == "cosine":
        return _cosine_betas(num_timesteps)
    raise ValueError(f"unknown beta schedule {name!r}; accepted: {', '.join(BETA_SCHEDULES)}")


def _cosine_betas(num_timesteps: int, offset: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    steps = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
    alpha_bar = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Rescale betas so the last timestep has zero signal (Lin et al. 2024, Algorithm 1).

    Shifts and scales sqrt(alpha_bar) so that it starts where it did and ends at 0.
    The last sigma becomes infinite: sample such models from a finite sigma_max,
    or with a flow/v parameterization that can take pure noise.
    """
    sqrt_ab = torch.cumprod(1 - betas, dim=0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * first / (first - last)
    alpha_bar = sqrt_ab**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas


def sigma_from_alpha_bar(alpha_bar: torch.Tensor) -> torch.Tensor:
    return ((1 - alpha_bar) / alpha_bar).sqrt()


def alpha_bar_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + sigma**2)


@dataclass(frozen=True)
class DiscreteSchedule:
    """A VP schedule of T training timesteps, seen in sigma space.

    `sigmas[t]` is the noise level of training timestep t, increasing with t.
    `timestep(sigma)` inverts it by linear interpolation in log sigma, so a
    sampler can visit any sigma and the network still gets a sensible t.
    """

    alphas_cumprod: torch.Tensor  # (T,) float64
    log_sigmas: torch.Tensor = field(init=False, repr=False)  # (T,) cached: samplers ask every step

    _table_cache: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_sigmas", sigma_from_alpha_bar(self.alphas_cumprod).log())

    @classmethod
    def from_betas(cls, betas: torch.Tensor) -> "DiscreteSchedule":
        return cls(torch.cumprod(1 - betas.double(), dim=0))

    @classmethod
    def named(cls, name: str, num_timesteps: int = 1000, beta_start: float = 0.00085,
              beta_end: float = 0.012, zero_terminal_snr: bool = False) -> "DiscreteSchedule":
        betas = vp_betas(name, num_timesteps, beta_start, beta_end)
        if zero_terminal_snr:
            betas = rescale_zero_terminal_snr(betas)
        return cls.from_betas(betas)

    @property
    def num_timesteps(self) -> int:
        return self.alphas_cumprod.shape[0]

    @property
    def sigmas(self) -> torch.Tensor:
        return self.log_sigmas.exp()

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        """Sigma at (possibly fractional) timesteps, interpolated in log sigma."""
        log_sigmas = self.log_sigmas.to(timestep.device)
        t = timestep.double().clamp(0, self.num_timesteps - 1)
        low = t.floor().long()
        high = (low + 1).clamp(max=self.num_timesteps - 1)
        frac = t - low
        return ((1 - frac) * log_sigmas[low] + frac * log_sigmas[high]).exp().to(timestep.dtype)

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """Fractional timestep whose sigma is `sigma` (inverse of `sigma`), float like the input.

        Computed in the input's precision: samplers call this every step, and in
        float32 the timestep is still exact to about 1e-4.
        """
        if sigma.device.type == "cpu" and sigma.numel() <= 64:
            return self._timestep_small_cpu(sigma)
        log_sigmas = self._log_sigmas_like(sigma)
        log_sigma = sigma.log()
        high = torch.searchsorted(log_sigmas, log_sigma).clamp(1, self.num_timesteps - 1)
        low = high - 1
        frac = (log_sigma - log_sigmas[low]) / (log_sigmas[high] - log_sigmas[low])
        return low + frac.clamp(0, 1)

    def _timestep_small_cpu(self, sigma: torch.Tensor) -> torch.Tensor:
        """The same interpolation in plain Python: for a handful of values on a CPU,
        one bisect each is several times cheaper than ten tensor operations."""
        table = self._table_cache.get("list")
        if table is None:
            table = self._table_cache["list"] = self.log_sigmas.tolist()
        out = []
        for value in sigma.reshape(-1).tolist():
            log_sigma = math.log(value) if value > 0 else -math.inf
            high = min(max(bisect.bisect_left(table, log_sigma), 1), len(table) - 1)
            frac = (log_sigma - table[high - 1]) / (table[high] - table[high - 1])
            out.append(high - 1 + min(max(frac, 0.0), 1.0))
        return torch.tensor(out, dtype=sigma.dtype).reshape(sigma.shape)

    def _log_sigmas_like(self, sigma: torch.Tensor) -> torch.Tensor:
        key = (sigma.device, sigma.dtype)
        if key not in self._table_cache:
            self._table_cache[key] = self.log_sigmas.to(device=sigma.device, dtype=sigma.dtype)
        return self._table_cache[key]


# ----- rectified flow: x_t = (1 - t) x0 + t eps ------------------------------------------

def flow_sigma_from_t(t: torch.Tensor) -> torch.Tensor:
    """x_t / (1 - t) = x0 + t/(1 - t) eps, so sigma = t / (1 - t)."""
    return t / (1 - t)


def flow_t_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    return sigma / (1 + sigma)


def flow_time_shift(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Shift flow time towards noise (Esser et al. 2024, SD3): t' = s t / (1 + (s - 1) t)."""
    if shift <= 0:
        raise ValueError(f"flow shift must be positive, got {shift}")
    return shift * t / (1 + (shift - 1) * t)
