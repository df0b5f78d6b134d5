"""Classifier-free guidance as a denoiser wrapper (Ho & Salimans 2022).

D_cfg = D(x | uncond) + scale * (D(x | cond) - D(x | uncond)), with cond and
uncond evaluated in one batched call. A negative prompt is just another uncond.
Samplers stay unaware of guidance: they pass extra_args={"cond": ..., "uncond": ...}.
"""

from __future__ import annotations

import torch

from pixeldrift.diffusion.forward import append_dims


def _concat_conditions(cond: dict, uncond: dict) -> dict:
    if cond.keys() != uncond.keys():
        raise ValueError(f"cond and uncond must have the same keys, got {sorted(cond)} and {sorted(uncond)}")
    batched = {}
    for key, value in cond.items():
        other = uncond[key]
        if value.shape[1:] != other.shape[1:]:
            raise ValueError(f"cond[{key!r}] has shape {tuple(value.shape)} but uncond[{key!r}] has "
                             f"{tuple(other.shape)}; encode both to the same length")
        batched[key] = torch.cat([value, other])
    return batched


class CFGDenoiser:
    """Wraps a denoiser with classifier-free guidance and optional guidance rescale.

    `rescale` (phi, Lin et al. 2024, section 3.4) pulls the guided noise prediction's
    standard deviation back towards the conditional one, which counters the
    over-exposure that large scales cause; it is computed on eps = (x - D) / sigma.
    """

    def __init__(self, denoiser, scale: float, rescale: float = 0.0):
        if not 0.0 <= rescale <= 1.0:
            raise ValueError(f"guidance rescale must be in [0, 1], got {rescale}")
        self.denoiser = denoiser
        self.scale = scale
        self.rescale = rescale
        # (cond, uncond, both): a sampler passes the same dicts every step, so batch them once;
        # pass new dicts, not mutated ones, for new conditions
        self._batched: tuple[dict, dict, dict] | None = None

    def _conditions(self, cond: dict, uncond: dict) -> dict:
        if self._batched is None or self._batched[0] is not cond or self._batched[1] is not uncond:
            self._batched = (cond, uncond, _concat_conditions(cond, uncond))
        return self._batched[2]

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict, uncond: dict) -> torch.Tensor:
        if self.scale == 1.0:
            return self.denoiser(x, sigma, **cond)
        both = self.denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), **self._conditions(cond, uncond))
        d_cond, d_uncond = both.chunk(2)  # (N, ...) each
        guided = d_uncond + self.scale * (d_cond - d_uncond)
        if self.rescale > 0:
            guided = self._rescale(x, sigma, guided, d_cond)
        return guided

    def _rescale(self, x, sigma, guided, d_cond):
        s = append_dims(sigma, x.ndim)
        eps_guided, eps_cond = (x - guided) / s, (x - d_cond) / s
        dims = list(range(1, x.ndim))
        ratio = eps_cond.std(dim=dims, keepdim=True) / eps_guided.std(dim=dims, keepdim=True)
        eps = self.rescale * eps_guided * ratio + (1 - self.rescale) * eps_guided
        return x - s * eps
