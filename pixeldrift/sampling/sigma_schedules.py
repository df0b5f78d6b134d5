"""Sigma schedules: the noise levels a sampler visits, from sigma_max down to exactly 0.

Each returns a float tensor of n + 1 decreasing sigmas ending in 0, so n steps
and `sigmas[-1] == 0`. The spacings of discrete VP models (leading, linspace,
trailing) follow Lin et al. 2024, "Common Diffusion Noise Schedules and Sample
Steps are Flawed", Table 2.
"""

from __future__ import annotations

import torch

from pixeldrift.diffusion.schedules import DiscreteSchedule, flow_sigma_from_t, flow_time_shift

MAX_STEPS = 1000
SPACINGS = ("leading", "linspace", "trailing")
SIGMA_SCHEDULES = ("karras", "exponential") + SPACINGS + ("flow", "flow_even")


def check_steps(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_STEPS:
        raise ValueError(f"steps must be an integer from 1 to {MAX_STEPS}, got {n!r}")


def _check_range(sigma_min: float, sigma_max: float) -> None:
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")


def _append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. 2022, eq. 5: evenly spaced in sigma^(1/rho)."""
    check_steps(n)
    _check_range(sigma_min, sigma_max)
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _append_zero((hi + ramp * (lo - hi)) ** rho).float()


def exponential_sigmas(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in log sigma."""
    check_steps(n)
    _check_range(sigma_min, sigma_max)
    log_sigmas = torch.linspace(torch.tensor(sigma_max).log(), torch.tensor(sigma_min).log(), n,
                                dtype=torch.float64)
    return _append_zero(log_sigmas.exp()).float()


def discrete_timesteps(n: int, num_timesteps: int = 1000, spacing: str = "leading",
                       steps_offset: int = 0) -> torch.Tensor:
    """Integer training timesteps to visit, decreasing, shape (n,). Built ascending, then flipped.

    leading:  0, k, 2k, ... with k = T // n, plus steps_offset (SD 1.x uses 1)
    linspace: n points rounded from [0, T - 1], so the first is T - 1
    trailing: T - 1, T - 1 - T/n, ... rounded: starts at the last timestep, the usual fix
    """
    check_steps(n)
    if n > num_timesteps:
        raise ValueError(f"steps ({n}) cannot exceed the model's {num_timesteps} training timesteps")
    if spacing == "leading":
        t = torch.arange(n, dtype=torch.float64) * (num_timesteps // n) + steps_offset
    elif spacing == "linspace":
        t = torch.linspace(0, num_timesteps - 1, n, dtype=torch.float64)
    elif spacing == "trailing":
        t = (num_timesteps - torch.arange(n, dtype=torch.float64) * (num_timesteps / n)).round() - 1
        t = t.flip(0)
    else:
        raise ValueError(f"unknown timestep spacing {spacing!r}; accepted: {', '.join(SPACINGS)}")
    return t.round().long().clamp(0, num_timesteps - 1).flip(0)


def discrete_sigmas(schedule: DiscreteSchedule, n: int, spacing: str = "leading",
                    steps_offset: int = 0) -> torch.Tensor:
    """The schedule's own sigmas at the spaced timesteps, then 0."""
    t = discrete_timesteps(n, schedule.num_timesteps, spacing, steps_offset)
    return _append_zero(schedule.sigmas[t]).float()


def flow_sigmas(n: int, shift: float = 1.0, t_max: float = 0.999, t_min: float = 1e-3) -> torch.Tensor:
    """Rectified-flow times evenly spaced from t_max to t_min, shifted, in sigma space.

    Sigma space cannot hold t = 1 (sigma = t / (1 - t) is infinite), so sampling
    starts at t_max = 0.999, where the prior is 99.9% noise; closer to 1 costs
    float32 precision, since x = x_t / (1 - t) grows like 1 / (1 - t).
    """
    check_steps(n)
    if not 0 < t_min < t_max < 1:
        raise ValueError(f"need 0 < t_min < t_max < 1, got t_min={t_min}, t_max={t_max}")
    t = flow_time_shift(torch.linspace(t_max, t_min, n, dtype=torch.float64), shift)
    return _append_zero(flow_sigma_from_t(t)).float()


def even_flow_sigmas(n: int, sigma_max: float) -> torch.Tensor:
    """Rectified-flow time in n equal steps, t_max (1 - i / n) for i = 0 .. n, in sigma space, ending at 0.

    Liu et al. 2023 sample a (re)flowed model by Euler in equal steps of flow time down to
    t = 0; starting at t_max = sigma_max / (1 + sigma_max) rather than 1 keeps sigma finite.
    Unlike `flow_sigmas`, every step does work: at n = 2 the second evaluation is at t_max / 2
    (sigma 0.98 for sigma_max 80), not at sigma_min, which is what a 1-4 step model needs.
    """
    check_steps(n)
    if not sigma_max > 0:
        raise ValueError(f"need sigma_max > 0, got {sigma_max}")
    t_max = sigma_max / (1.0 + sigma_max)
    t = t_max * (1.0 - torch.arange(n, dtype=torch.float64) / n)
    return _append_zero(flow_sigma_from_t(t)).float()


def make_sigmas(name: str, n: int, sigma_min: float | None = None, sigma_max: float | None = None,
                schedule: DiscreteSchedule | None = None, **options) -> torch.Tensor:
    """Pick a sigma schedule by name (see SIGMA_SCHEDULES), with a clear error for the wrong name.

    Karras and exponential need a sigma range, taken from `schedule` when not given;
    leading, linspace and trailing need a discrete `schedule`.
    """
    if name in SPACINGS:
        if schedule is None:
            raise ValueError(f"sigma schedule {name!r} needs a model with discrete training timesteps")
        return discrete_sigmas(schedule, n, name, **options)
    if name == "flow":
        return flow_sigmas(n, **options)
    if name == "flow_even":
        sigma_max = schedule.sigma_max if sigma_max is None and schedule is not None else sigma_max
        if sigma_max is None:
            raise ValueError("sigma schedule 'flow_even' needs sigma_max")
        return even_flow_sigmas(n, sigma_max)
    if name in ("karras", "exponential"):
        if schedule is not None:
            sigma_min = schedule.sigma_min if sigma_min is None else sigma_min
            sigma_max = schedule.sigma_max if sigma_max is None else sigma_max
        if sigma_min is None or sigma_max is None:
            raise ValueError(f"sigma schedule {name!r} needs sigma_min and sigma_max")
        fn = karras_sigmas if name == "karras" else exponential_sigmas
        return fn(n, sigma_min, sigma_max, **options)
    raise ValueError(f"unknown sigma schedule {name!r}; accepted: {', '.join(SIGMA_SCHEDULES)}")
