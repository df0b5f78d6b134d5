"""2-D point clouds for the toy lab: the picture from the first diffusion paper (Sohl-Dickstein et al. 2015)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

MAX_CUSTOM_POINTS = 1_000_000


def swiss_roll(n: int, generator: torch.Generator) -> torch.Tensor:
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * t.cos(), t * t.sin()], dim=1)
    return points + 0.4 * torch.randn(n, 2, generator=generator)


def two_moons(n: int, generator: torch.Generator) -> torch.Tensor:
    t = math.pi * torch.rand(n, generator=generator)
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    return torch.stack([x, y], dim=1) + 0.06 * torch.randn(n, 2, generator=generator)


def checkerboard(n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform on the dark squares of a 4x4 board."""
    x = 4 * torch.rand(n, generator=generator)
    row = torch.randint(0, 4, (n,), generator=generator)
    y = row + torch.rand(n, generator=generator)
    x = (x.floor() // 2 * 2 + (row % 2) + x.frac())  # shift every other row by one square
    return torch.stack([x, y], dim=1)


def load_points(path: str | Path) -> torch.Tensor:
    """Points from a text file, one 'x y' (or 'x,y') pair per line; '#' starts a comment."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].replace(",", " ").strip()
        if not line:
            continue
        parts = line.split()
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{path}:{number}: expected two numbers, got {line!r}") from None
        if len(values) != 2 or not all(math.isfinite(v) for v in values):
            raise ValueError(f"{path}:{number}: expected two finite numbers, got {line!r}")
        rows.append(values)
        if len(rows) > MAX_CUSTOM_POINTS:
            raise ValueError(f"{path}: more than {MAX_CUSTOM_POINTS} points")
    if len(rows) < 2:
        raise ValueError(f"{path}: need at least 2 points, found {len(rows)}")
    return torch.tensor(rows)


def standardise(points: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation overall (keeps the shape's aspect ratio)."""
    centred = points - points.mean(0)
    return centred / centred.std().clamp_min(1e-8)


DATASETS = {"swissroll": swiss_roll, "moons": two_moons, "checkerboard": checkerboard}


class PointCloud:
    """An endless supply of standardised points: drawn fresh from a shape, or resampled from a file."""

    def __init__(self, name: str | None = None, points_file: str | Path | None = None):
        if (name is None) == (points_file is None):
            raise ValueError("give either a dataset name or a points file")
        if name is not None and name not in DATASETS:
            raise ValueError(f"unknown toy dataset {name!r}; accepted: {', '.join(DATASETS)} (or --points FILE)")
        self.name = name or Path(points_file).stem
        self._fixed = None
        if points_file is not None:
            raw = load_points(points_file)
            self._mean, self._std = raw.mean(0), (raw - raw.mean(0)).std()
            self._fixed = (raw - self._mean) / self._std
        else:
            reference = DATASETS[name](100_000, torch.Generator().manual_seed(0))
            self._mean, self._std = reference.mean(0), (reference - reference.mean(0)).std()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        if self._fixed is not None:
            return self._fixed[torch.randint(0, len(self._fixed), (n,), generator=generator)]
        return (DATASETS[self.name](n, generator) - self._mean) / self._std
