"""ControlNet residuals as a denoiser wrapper (Zhang, Rao & Agrawala 2023, "Adding Conditional Control
to Text-to-Image Diffusion Models").

Each control unit is a ControlNet, its control image (the hint), a strength and the
range of noise levels where it acts. At every call the wrapper feeds each active
ControlNet what the backbone network is fed (c_in(sigma) x and the noise level of
the denoiser's parameterization), sums the residuals weighted by their strengths
(several controls at once, as the paper's section 4.4 composes them), and hands the
sum to the backbone as `control=`:

    D_c(x, sigma) = D(x, sigma; control = sum_i w_i(sigma) * ControlNet_i(c_in x, c_noise, hint_i))

Since only D changes, every sampler, classifier-free guidance (the wrapper sits
inside it, so cond and uncond both get the control, as in diffusers' pipeline),
image-to-image and inpainting work unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pixeldrift.diffusion.forward import append_dims


@dataclass
class ControlUnit:
    """A ControlNet `net(x_in, noise_level, hint, **cond) -> residuals` and its control image.

    hint: (B, C, H, W); B divides the batch the wrapper sees (1 for one image for all, N per
    sample, repeated for guidance's doubled batch). Acts while sigma_min <= sigma <= sigma_max.
    """

    net: object
    hint: torch.Tensor
    strength: float = 1.0
    sigma_min: float = 0.0
    sigma_max: float = math.inf

    def weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """(N,) the strength where sigma is in this unit's range, else 0."""
        inside = (sigma >= self.sigma_min) & (sigma <= self.sigma_max)
        return inside.to(torch.float32) * self.strength


def sigma_range(sigmas: torch.Tensor, start: float, end: float) -> tuple[float, float]:
    """(sigma_min, sigma_max) of the steps from fraction `start` to `end` of a schedule, by sigma.

    Step i of n (starting at sigmas[i]) is active when i/n >= start and (i+1)/n <= end, as
    diffusers' control_guidance_start/end; a sampler's in-between calls (Heun, DPM-Solver) then
    fall in or out by their sigma. No active step: an empty range.
    """
    steps = len(sigmas) - 1
    active = [i for i in range(steps) if i / steps >= start - 1e-9 and (i + 1) / steps <= end + 1e-9]
    if not active:
        return math.inf, -math.inf
    levels = [float(sigmas[i]) for i in active]
    return min(levels), max(levels)


def _batched(hint: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if x.shape[0] % hint.shape[0]:
        raise ValueError(f"a control image batch of {hint.shape[0]} does not divide the batch of {x.shape[0]}")
    return hint.to(x).repeat(x.shape[0] // hint.shape[0], 1, 1, 1)


class ControlDenoiser:
    """Wraps a denoiser adapter (diffusion/parameterization.py) with ControlNet residuals."""

    def __init__(self, denoiser, units: list[ControlUnit]):
        if not units:
            raise ValueError("ControlDenoiser needs at least one control unit")
        self.denoiser, self.units = denoiser, list(units)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        residuals = self.residuals(x, sigma, cond)
        if residuals is None:
            return self.denoiser(x, sigma, **cond)
        return self.denoiser(x, sigma, **cond, control=residuals)

    def residuals(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict) -> list[torch.Tensor] | None:
        """The strength-weighted sum of every active unit's residuals; None when no unit acts at sigma."""
        sigma = sigma.reshape(-1).expand(x.shape[0]) if sigma.numel() == 1 else sigma
        x_in = x * append_dims(self.denoiser.input_scale(sigma), x.ndim)
        level = self.denoiser.noise_level(sigma)
        total = None
        for unit in self.units:
            weight = unit.weight(sigma).to(x)
            if not bool(weight.any()):
                continue
            scaled = [append_dims(weight, r.ndim) * r for r in unit.net(x_in, level, _batched(unit.hint, x), **cond)]
            total = scaled if total is None else [a + b for a, b in zip(total, scaled)]
        return total

    # the adapter's own numbers, for code that reads them from the denoiser it is handed
    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.denoiser.input_scale(sigma)

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.denoiser.loss_weight(sigma)
