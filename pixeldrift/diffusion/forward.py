"""The forward process: how clean data is destroyed by noise.

In sigma space the forward process is one line, x = x0 + sigma * eps. The
variance-preserving form used by DDPM and Stable Diffusion is the same thing
rescaled: x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps = x / sqrt(1 + sigma^2).
"""

from __future__ import annotations

import torch


def append_dims(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """Give a per-sample tensor (N,) trailing singleton dims so it broadcasts over (N, ...)."""
    if v.ndim > ndim:
        raise ValueError(f"cannot broadcast a {v.ndim}-d tensor to {ndim} dims")
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))


def add_noise(x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x = x0 + sigma * eps, with sigma a scalar or one value per sample."""
    sigma = torch.as_tensor(sigma, dtype=x0.dtype, device=x0.device)
    return x0 + append_dims(sigma, x0.ndim) * noise


def vp_from_sigma_space(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x_t of the VP process from x of sigma space: x_t = x / sqrt(1 + sigma^2)."""
    return x / append_dims((1 + sigma**2).sqrt(), x.ndim)


def sigma_space_from_vp(x_t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return x_t * append_dims((1 + sigma**2).sqrt(), x_t.ndim)
