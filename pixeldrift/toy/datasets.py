"""2-D point clouds for the toy lab, some with class labels, and the user's own points from a file.

Every shape is drawn raw, then normalised: `Normalisation` holds the mean, the
standard deviation and the target scale, public so samples can be mapped back.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from pixeldrift.bounded_files import regular_file

MAX_CUSTOM_POINTS = 1_000_000
MAX_POINTS_FILE_BYTES = 128 << 20  # a million rows of text take 20-50 MB
MAX_CLASSES = 100

Labelled = tuple[torch.Tensor, torch.Tensor | None]  # points (N, 2), labels (N,) or None


def swiss_roll_from_t(t: torch.Tensor) -> torch.Tensor:
    """The x and z columns of sklearn's make_swiss_roll: (t cos t, t sin t), shape (N, 2)."""
    return torch.stack([t * t.cos(), t * t.sin()], dim=1)


def swiss_roll(n: int, generator: torch.Generator) -> Labelled:
    """sklearn's make_swiss_roll(noise=0, hole=True), columns x and z: the course's roll.

    sklearn cuts the (t, y) sheet into a 3x3 grid (t over [1.5 pi, 4.5 pi], y over [0, 21])
    and leaves out the middle cell; seen from the y axis, the middle turn holds 2/8 of the
    points and each outer turn 3/8.
    """
    turn = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])[torch.randint(0, 8, (n,), generator=generator)]
    t = math.pi * (1.5 + turn + torch.rand(n, generator=generator, dtype=torch.float64))
    return swiss_roll_from_t(t).float(), None


def spiral(n: int, generator: torch.Generator) -> Labelled:
    """A noisy spiral (the lab's first 'swissroll'): t in [1.5 pi, 4.5 pi], noise 0.4."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    return swiss_roll_from_t(t) + 0.4 * torch.randn(n, 2, generator=generator), None


def two_moons(n: int, generator: torch.Generator) -> Labelled:
    t = math.pi * torch.rand(n, generator=generator)
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    return torch.stack([x, y], dim=1) + 0.06 * torch.randn(n, 2, generator=generator), None


def checkerboard(n: int, generator: torch.Generator) -> Labelled:
    """Uniform on the dark squares of a 4x4 board."""
    x = 4 * torch.rand(n, generator=generator)
    row = torch.randint(0, 4, (n,), generator=generator)
    y = row + torch.rand(n, generator=generator)
    x = (x.floor() // 2 * 2 + (row % 2) + x.frac())  # shift every other row by one square
    return torch.stack([x, y], dim=1), None


def gaussians(n: int, generator: torch.Generator, k: int = 8, radius: float = 2.0, std: float = 0.45) -> Labelled:
    """k Gaussians on a circle, each one class. Neighbours overlap a little (centres 1.5 apart,
    std 0.45), so a plain conditional model puts some points in the wrong component: guidance
    has something to pull."""
    labels = torch.randint(0, k, (n,), generator=generator)
    angle = 2 * math.pi * labels / k
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator), labels


@dataclass(frozen=True)
class Shape:
    draw: Callable[[int, torch.Generator], Labelled]
    num_classes: int = 0


DATASETS = {
    "swissroll": Shape(swiss_roll),
    "spiral": Shape(spiral),
    "moons": Shape(two_moons),
    "checkerboard": Shape(checkerboard),
    "gaussians": Shape(gaussians, num_classes=8),
}


@dataclass(frozen=True)
class Normalisation:
    """normalised = (raw - mean) / std * scale; `raw(x)` maps samples back to the data's units.

    "standard": per-axis mean, one std over both axes (keeps the aspect ratio), scale 1.
    "course":   (X - X.mean()) / X.std() * 2 with numpy's scalar mean and std over all
                entries, as the KAIST CS492(D) assignments' `normalize` (dataset.py) does.
    """

    mean: tuple[float, float]
    std: float
    scale: float = 1.0

    @classmethod
    def fit(cls, raw: torch.Tensor, kind: str = "standard") -> "Normalisation":
        raw = raw.double()
        if kind == "standard":
            mean = raw.mean(0)
            return cls((mean[0].item(), mean[1].item()), (raw - mean).std().clamp_min(1e-12).item(), 1.0)
        if kind == "course":
            mean = raw.mean().item()
            return cls((mean, mean), raw.std(unbiased=False).clamp_min(1e-12).item(), 2.0)
        raise ValueError(f"unknown normalisation {kind!r}; accepted: standard, course")

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        return ((raw - torch.tensor(self.mean, dtype=raw.dtype)) * (self.scale / self.std)).float()

    def raw(self, points: torch.Tensor) -> torch.Tensor:
        return points * (self.std / self.scale) + torch.tensor(self.mean, dtype=points.dtype)


class PointCloud:
    """An endless supply of normalised points (and labels, when the data has them):
    drawn fresh from a shape, or resampled from a file's points."""

    def __init__(self, name: str | None = None, points_file: str | Path | None = None,
                 normalisation: str = "standard"):
        if (name is None) == (points_file is None):
            raise ValueError("give either a dataset name or a points file")
        if name is not None and name not in DATASETS:
            raise ValueError(f"unknown toy dataset {name!r}; accepted: {', '.join(DATASETS)} (or --points FILE)")
        self.name = name or Path(points_file).stem
        self.from_file = points_file is not None
        self._fixed: Labelled | None = None
        if points_file is not None:
            raw, labels = load_points(points_file)
            self.num_classes = 0 if labels is None else int(labels.max()) + 1
        else:
            self.num_classes = DATASETS[name].num_classes
            raw, _ = DATASETS[name].draw(100_000, torch.Generator().manual_seed(0))
        self.normalisation = Normalisation.fit(raw, normalisation)
        if points_file is not None:
            self._fixed = (self.normalisation(raw), labels)

    def sample_labelled(self, n: int, generator: torch.Generator) -> Labelled:
        if self._fixed is not None:
            index = torch.randint(0, len(self._fixed[0]), (n,), generator=generator)
            points, labels = self._fixed
            return points[index], None if labels is None else labels[index]
        raw, labels = DATASETS[self.name].draw(n, generator)
        return self.normalisation(raw), labels

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.sample_labelled(n, generator)[0]


# ----- the user's points -------------------------------------------------------------------

def load_points(path: str | Path) -> Labelled:
    """Points from a file: .npy (an (N, 2) or (N, 3) array) or text (.csv, .txt, anything else).

    Text: one 'x y' or 'x,y' row per line, '#' starts a comment, a first line with
    letters (a CSV header) is skipped. A third column, when present, is an integer class
    label from 0. At most 1,000,000 points; errors name the file (and the line, in text).
    """
    path = Path(path)
    regular_file(path, MAX_POINTS_FILE_BYTES, "points file")
    if path.suffix.lower() == ".npy":
        array = _read_npy(path)
    else:
        array = _read_text(path)
    if not np.isfinite(array).all():
        row = int(np.nonzero(~np.isfinite(array).all(axis=1))[0][0])
        raise ValueError(f"{path}: point {row + 1} is not finite ({array[row].tolist()})")
    if len(array) < 2:
        raise ValueError(f"{path}: need at least 2 points, found {len(array)}")
    points = torch.from_numpy(np.ascontiguousarray(array[:, :2], dtype=np.float64))
    if array.shape[1] == 2:
        return points, None
    labels = array[:, 2]
    if (labels != np.round(labels)).any() or labels.min() < 0 or labels.max() >= MAX_CLASSES:
        raise ValueError(f"{path}: the third column holds class labels, integers from 0 to {MAX_CLASSES - 1}")
    return points, torch.from_numpy(labels.astype(np.int64))


def _check_shape(path: Path, shape: tuple[int, ...]) -> None:
    if len(shape) != 2 or shape[1] not in (2, 3):
        raise ValueError(f"{path}: expected rows of 2 numbers (x y) or 3 (x y label), got shape {shape}")
    if shape[0] > MAX_CUSTOM_POINTS:
        raise ValueError(f"{path}: {shape[0]:,} points, more than the {MAX_CUSTOM_POINTS:,} the lab accepts; "
                         "subsample the file")


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)  # the header first: shape before data
    except ValueError as error:
        raise ValueError(f"{path}: not a numeric .npy array ({error})") from None
    _check_shape(path, array.shape)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected a numeric array, got dtype {array.dtype}")
    return np.array(array, dtype=np.float64)  # read into memory (a copy of the mapped file)


def _read_text(path: Path) -> np.ndarray:
    try:
        text = path.read_text().replace(",", " ")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file; give .npy, .csv or .txt points") from None
    skip = 0
    for number, line in enumerate(io.StringIO(text)):  # a header can only be the first data line
        if line.split("#", 1)[0].strip():
            skip = number + 1 if _is_header(line) else 0
            break
    try:  # numpy's C parser: well under a second for a million rows, where a Python loop takes several
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": counted below
            array = np.loadtxt(io.StringIO(text), comments="#", ndmin=2, skiprows=skip,
                               max_rows=MAX_CUSTOM_POINTS + 1)
    except ValueError as error:
        _find_bad_line(path, text.splitlines()[skip:], skip)
        raise ValueError(f"{path}: {error}") from None
    _check_shape(path, array.shape if array.size else (0, 2))
    return array


def _is_header(line: str) -> bool:
    words = line.split("#", 1)[0].split()
    return any(any(c.isalpha() for c in w) and w.lower().lstrip("+-") not in ("nan", "inf", "infinity")
               for w in words)


def _find_bad_line(path: Path, lines: list[str], skipped: int) -> None:
    """Raise the error that names the first unreadable line (run only once the fast parser failed)."""
    width = None
    for number, line in enumerate(lines, start=skipped + 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            values = [float(p) for p in line.split()]
        except ValueError:
            raise ValueError(f"{path}:{number}: expected two numbers, got {line!r}") from None
        if len(values) not in (2, 3) or (width is not None and len(values) != width):
            expected = "two numbers (x y) or three (x y label)" if width is None else f"{width} numbers"
            raise ValueError(f"{path}:{number}: expected {expected}, got {line!r}")
        width = len(values)
