"""The toy lab: train a 2-D denoiser, sample it with every sampler, measure and draw what happens."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pixeldrift.evaluate.distances import sliced_wasserstein
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import karras_sigmas
from pixeldrift.toy import figures
from pixeldrift.toy.datasets import PointCloud
from pixeldrift.toy.model import ToyTrainingConfig, train_point_denoiser

SIGMA_MIN, SIGMA_MAX = 0.005, 20.0
FORWARD_SIGMAS = (0.0, 0.1, 0.3, 1.0, 3.0)
DRIFT_SIGMAS = (3.0, 1.0, 0.3, 0.05)


@dataclass
class ToyLabConfig:
    data: str | None = "swissroll"
    points_file: str | None = None
    training: ToyTrainingConfig = field(default_factory=ToyTrainingConfig)
    samplers: tuple[str, ...] = ("euler", "heun", "dpmpp_2m", "unipc", "euler_ancestral", "dpmpp_2m_sde")
    sample_steps: tuple[int, ...] = (10, 25, 50)
    num_samples: int = 2000
    seed: int = 0


@dataclass
class DistanceRow:
    sampler: str
    steps: int
    distance: float


def sample_points(denoiser, sampler: str, steps: int, n: int, seed: int, callback=None) -> torch.Tensor:
    """Draw n points: prior noise at SIGMA_MAX, then `steps` steps of `sampler` on a Karras schedule."""
    generator = torch.Generator().manual_seed(seed)
    sigmas = karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)
    x = torch.randn(n, 2, generator=generator) / denoiser.input_scale(sigmas[:1])
    return get_sampler(sampler)(denoiser, x, sigmas, callback=callback, generator=generator)


def distance_table(denoiser, cloud: PointCloud, config: ToyLabConfig) -> tuple[list[DistanceRow], float]:
    """Sliced Wasserstein distance to fresh data per sampler and step count, and the data-vs-data floor."""
    data_gen = torch.Generator().manual_seed(config.seed + 1)
    data, more_data = cloud.sample(config.num_samples, data_gen), cloud.sample(config.num_samples, data_gen)

    def distance(a):
        return sliced_wasserstein(a, data, generator=torch.Generator().manual_seed(0))

    rows = [DistanceRow(name, steps, distance(sample_points(denoiser, name, steps, config.num_samples,
                                                            config.seed + 2)))
            for name in config.samplers for steps in config.sample_steps]
    return rows, distance(more_data)


def format_table(rows: list[DistanceRow], floor: float, steps: tuple[int, ...]) -> str:
    header = f"{'sampler':<16}" + "".join(f"{f'{n} steps':>11}" for n in steps)
    lines = [header, "-" * len(header)]
    for name in dict.fromkeys(r.sampler for r in rows):
        values = {r.steps: r.distance for r in rows if r.sampler == name}
        lines.append(f"{name:<16}" + "".join(f"{values[n]:>11.4f}" for n in steps))
    lines.append(f"{'(data vs data)':<16}{floor:>11.4f}   <- the best any sampler can score")
    return "\n".join(lines)


def draw_figures(denoiser, cloud: PointCloud, out: Path, seed: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    data = cloud.sample(1500, generator)
    noise = torch.randn(data.shape, generator=generator)
    forward = [figures.scatter((data + s * noise) / math.sqrt(1 + s * s), f"sigma = {s:g}") for s in FORWARD_SIGMAS]
    drift = [figures.drift_field(denoiser, s, f"drift at sigma = {s:g}") for s in DRIFT_SIGMAS]

    path: list[torch.Tensor] = []
    steps = 40
    sigmas = karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)

    def record(i, x, denoised):
        path.append(x / math.sqrt(1 + sigmas[i].item() ** 2))

    final = sample_points(denoiser, "heun", steps, 1500, seed, callback=record)
    path.append(final)
    paths = torch.stack(path)  # (steps + 1, N, 2)
    written = {
        "forward.png": figures.row(forward),
        "drift.png": figures.row(drift),
        "trajectories.png": figures.row([figures.trajectories(paths[:, :80], "reverse paths (Heun, 40 steps)"),
                                         figures.scatter(final, "samples"),
                                         figures.scatter(data, "data", figures.DATA_INK)]),
    }
    for name, image in written.items():
        figures.save_png(image, out / name)
    frames = [figures.scatter(p, f"step {i} of {steps}") for i, p in enumerate(paths)]
    figures.save_gif(frames, out / "flow.gif")
    return [out / name for name in written] + [out / "flow.gif"]


def run_lab(config: ToyLabConfig, out: Path, log=print) -> list[DistanceRow]:
    for name in config.samplers:
        get_sampler(name)  # fail on a bad name before training, not after
    cloud = PointCloud(config.data if config.points_file is None else None, config.points_file)
    log(f"training a denoiser on {cloud.name} for {config.training.steps} steps ...")
    losses: list[float] = []
    denoiser = train_point_denoiser(cloud.sample, config.training, on_step=lambda i, l: losses.append(l))
    tail = losses[-100:]
    parameters = sum(p.numel() for p in denoiser.parameters())
    log(f"{parameters:,} parameters; final loss (mean of last {len(tail)} steps): {sum(tail) / len(tail):.4f}")
    rows, floor = distance_table(denoiser, cloud, config)
    log("sliced Wasserstein distance between samples and data (lower is better):")
    log(format_table(rows, floor, config.sample_steps))
    for path in draw_figures(denoiser, cloud, out, config.seed):
        log(f"wrote {path}")
    return rows

