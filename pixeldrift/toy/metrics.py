"""How straight a sampler's paths are, and how many of the data's modes the samples reach.

Sample quality itself is the sliced Wasserstein distance (pixeldrift.evaluate.distances);
these two measures say why a model needs many steps (curved paths) and what it trades
for few (modes it drops).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pixeldrift.toy.datasets import PointCloud

# A mode is a grid cell that holds at least this share of the data; the samples reach it when
# they put at least REACHED_SHARE of the data's share there (a quarter: a mode thinned 4x still counts).
MODE_MIN_SHARE = 0.01
REACHED_SHARE = 0.25
DEFAULT_CELLS = 6       # cells per axis over the data's box, for shapes without natural modes
BOARD_SQUARES = 4       # the checkerboard is 4 x 4 squares of side 1 in raw units; its 8 dark ones are the modes


def _check_paths(paths: torch.Tensor) -> None:
    if paths.ndim != 3 or len(paths) < 2:
        raise ValueError(f"paths must be (steps + 1, N, d) with at least 2 states, got {tuple(paths.shape)}")


def length_ratio(paths: torch.Tensor) -> float:
    """Mean over paths of (path length) / (distance from start to end): 1 for straight lines, more when bent.

    paths: (steps + 1, N, d), the states a sampler visited, start first.
    """
    _check_paths(paths)
    length = (paths[1:] - paths[:-1]).norm(dim=-1).sum(0)       # (N,)
    chord = (paths[-1] - paths[0]).norm(dim=-1).clamp_min(1e-12)  # (N,)
    return (length / chord).mean().item()


def liu_straightness(paths: torch.Tensor, times: torch.Tensor) -> float:
    """Liu et al. 2022's straightness S(Z) = int_0^1 E ||(Z_1 - Z_0) - dZ_t/dt||^2 dt, on a discrete path.

    The velocity of each step is compared with the velocity of the straight line from the
    first state to the last, weighted by the step's share of the time. S = 0 exactly for
    straight lines at constant speed; bent paths (and uneven speed) make it positive.
    paths: (steps + 1, N, d); times: (steps + 1,), monotone (flow time runs from 1 to 0 here).
    """
    _check_paths(paths)
    if times.shape != (len(paths),):
        raise ValueError(f"need one time per state: {len(paths)}, got shape {tuple(times.shape)}")
    dt = (times[1:] - times[:-1]).to(paths.dtype)                     # (steps,)
    span = times[-1] - times[0]
    chord = (paths[-1] - paths[0]) / span                              # (N, d)
    velocity = (paths[1:] - paths[:-1]) / dt[:, None, None]            # (steps, N, d)
    squared = (velocity - chord).pow(2).sum(-1).mean(-1)               # (steps,)
    return ((dt / span) * squared).sum().item()


def reached(sample_shares: torch.Tensor, data_shares: torch.Tensor) -> torch.Tensor:
    """Which modes the samples reach: those where they put at least REACHED_SHARE of the data's share."""
    return sample_shares >= REACHED_SHARE * data_shares


@dataclass(frozen=True)
class ModeGrid:
    """A grid over the plane whose cells that hold data are the data's modes.

    Coverage (diversity): the share of modes the samples reach. On-mode share (precision):
    the share of samples that fall in a mode at all. Bounds are in the cloud's normalised units.
    """

    lower: tuple[float, float]
    upper: tuple[float, float]
    cells: int
    data_share: torch.Tensor  # (cells * cells,): the share of the data in each cell

    @property
    def modes(self) -> torch.Tensor:
        return (self.data_share >= MODE_MIN_SHARE).nonzero().flatten()

    def cell_of(self, points: torch.Tensor) -> torch.Tensor:
        """The flat cell index of each point, -1 outside the grid."""
        lower, upper = torch.tensor(self.lower), torch.tensor(self.upper)
        scaled = (points.float() - lower) / (upper - lower) * self.cells  # (N, 2)
        inside = ((scaled >= 0) & (scaled < self.cells)).all(dim=1)
        index = scaled.floor().long().clamp(0, self.cells - 1)
        return torch.where(inside, index[:, 1] * self.cells + index[:, 0], -1)

    def shares(self, points: torch.Tensor) -> torch.Tensor:
        cells = self.cell_of(points)
        counts = torch.bincount(cells[cells >= 0], minlength=self.cells**2).float()
        return counts / max(len(points), 1)

    def coverage(self, samples: torch.Tensor) -> float:
        """Share of the modes that receive at least REACHED_SHARE of the data's share of the samples."""
        modes = self.modes
        return reached(self.shares(samples)[modes], self.data_share[modes]).float().mean().item()

    def on_modes(self, samples: torch.Tensor) -> float:
        """Share of the samples that land in a mode cell."""
        return torch.isin(self.cell_of(samples), self.modes).float().mean().item()


def mode_grid(cloud: PointCloud, cells: int = DEFAULT_CELLS, reference: int = 100_000) -> ModeGrid:
    """The checkerboard's own 4 x 4 board (8 modes, its dark squares); for other shapes a cells x cells
    grid over the box of `reference` data points, its modes the cells holding 1% of them or more."""
    data = cloud.sample(reference, torch.Generator().manual_seed(12_345))
    if cloud.name == "checkerboard" and not cloud.from_file:
        corners = cloud.normalisation(torch.tensor([[0.0, 0.0], [BOARD_SQUARES, BOARD_SQUARES]], dtype=torch.float64))
        lower, upper, cells = corners[0], corners[1], BOARD_SQUARES
    else:
        lower, upper = data.min(0).values, data.max(0).values
        margin = 1e-4 * (upper - lower)  # the extreme points fall inside, not on the edge
        lower, upper = lower - margin, upper + margin
    grid = ModeGrid((lower[0].item(), lower[1].item()), (upper[0].item(), upper[1].item()), cells,
                    torch.zeros(cells**2))
    return ModeGrid(grid.lower, grid.upper, cells, grid.shares(data))
