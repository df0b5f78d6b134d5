"""Distances between two samples of points: how far generated data is from real data."""

from __future__ import annotations

import torch


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int = 256,
                       generator: torch.Generator | None = None) -> float:
    """Mean over random directions of the exact 1-D Wasserstein-1 distance (Rabin et al. 2011).

    a and b are (N, d) with the same N; in 1-D, W1 is the mean gap between sorted samples.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"need two (N, d) samples of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    directions = torch.randn(a.shape[1], projections, generator=generator, dtype=a.dtype)
    directions = directions / directions.norm(dim=0, keepdim=True)
    pa, pb = (a @ directions).sort(dim=0).values, (b @ directions).sort(dim=0).values
    return (pa - pb).abs().mean().item()


def mmd2(a: torch.Tensor, b: torch.Tensor, bandwidth: float = 0.5) -> float:
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012)."""
    def kernel(u, v):
        return torch.exp(-torch.cdist(u, v).pow(2) / (2 * bandwidth**2))
    n, m = len(a), len(b)
    kaa, kbb = kernel(a, a), kernel(b, b)
    within = (kaa.sum() - kaa.diag().sum()) / (n * (n - 1)) + (kbb.sum() - kbb.diag().sum()) / (m * (m - 1))
    return (within - 2 * kernel(a, b).mean()).item()
