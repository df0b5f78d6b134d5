"""The toy lab: train a 2-D denoiser with any objective, sample it with any sampler, measure and draw.

Everything goes through pixeldrift's own adapters (diffusion/parameterization.py),
losses (diffusion/losses.py), samplers, sigma schedules and guidance (sampling/),
the same code that drives the image models.
"""

from __future__ import annotations

import io
import math
import textwrap
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.diffusion.parameterization import Denoiser
from pixeldrift.evaluate.distances import chamfer_distance, sliced_wasserstein
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import make_sigmas
from pixeldrift.toy.datasets import PointCloud
from pixeldrift.toy.model import ToyTrainingConfig, train_denoiser

FORWARD_SIGMAS = (0.0, 0.3, 1.0, 3.0)
DRIFT_SIGMAS = (3.0, 1.0, 0.3, 0.05)
DEFAULT_SIGMAS = {"eps": "leading", "v": "leading", "edm": "karras", "flow": "flow"}

# Samplers that are one update rule in sigma space; the lab says so when two of them meet.
SAME_SAMPLERS = (
    (frozenset({"euler", "ddim", "flow_euler", "dpm_solver_1"}),
     "in sigma space each step is x' = D + (s'/s)(x - D), with D the denoised guess: DDIM with eta = 0 "
     "(Song et al. 2021, eq. 12), Euler on dx/dsigma = (x - D)/sigma, Euler in flow time t = s/(1+s), "
     "and DPM-Solver-1 (Lu et al. 2022, eq. 4.1) are this one step. In other codebases they differ "
     "by the time grid they run on; here that is --sigmas (e.g. ddim:50:leading beside euler:50:karras)."),
    (frozenset({"ddpm", "euler_ancestral"}),
     "DDPM's posterior step is Euler ancestral with eta = 1 (Song et al. 2021, section 4.1): one sampler, "
     "two names; with the same seed they draw the same noise."),
)


@dataclass(frozen=True)
class SampleRun:
    """One sampling setting: a sampler, its step count, and the sigma schedule it walks (None: the default)."""

    sampler: str
    steps: int
    sigmas: str | None = None
    sigma_options: tuple[tuple[str, float], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.sampler} {self.steps}" + (f" {self.sigmas}" if self.sigmas else "")


@dataclass
class ToyLabConfig:
    data: str | None = "swissroll"
    points_file: str | None = None
    normalisation: str = "standard"
    training: ToyTrainingConfig = field(default_factory=ToyTrainingConfig)
    runs: tuple[SampleRun, ...] = tuple(SampleRun(s, n) for s in ("euler", "heun", "dpmpp_2m", "unipc")
                                        for n in (10, 25))
    guidance: tuple[float, ...] = (0.0, 1.0, 3.0, 7.0)
    num_samples: int = 2048
    seed: int = 0
    save: Path | None = None
    figures: bool = True
    target_chamfer: float | None = None  # print pass/fail against it (the course's grade: 20)


@dataclass
class RunResult:
    run: SampleRun
    sliced_wasserstein: float
    chamfer: float
    seconds: float
    samples: torch.Tensor


@dataclass
class GuidanceResult:
    scale: float
    class_accuracy: float
    chamfer: float
    samples: torch.Tensor
    labels: torch.Tensor


@dataclass
class LabResult:
    denoiser: Denoiser
    cloud: PointCloud
    runs: list[RunResult]
    floor: tuple[float, float]          # sliced Wasserstein and Chamfer of data against more data
    guidance: list[GuidanceResult]
    train_seconds: float
    final_loss: float
    figures: list[Path] = field(default_factory=list)


# ----- sampling ----------------------------------------------------------------------------

def sigma_range(denoiser: Denoiser) -> tuple[float, float]:
    """The noise levels a Karras or exponential schedule spans for this model."""
    schedule = getattr(denoiser, "schedule", None)
    if schedule is not None:
        return schedule.sigma_min, schedule.sigma_max
    if hasattr(denoiser, "sigma_data"):
        return 0.005 * denoiser.sigma_data, 20.0 * denoiser.sigma_data
    return 1e-3, 999.0  # flow: t from 0.001 to 0.999


def sampling_sigmas(denoiser: Denoiser, objective: str, run: SampleRun) -> torch.Tensor:
    name = run.sigmas or DEFAULT_SIGMAS[objective]
    options = dict(run.sigma_options)
    if name == "flow":
        return make_sigmas(name, run.steps, **options)
    sigma_min, sigma_max = sigma_range(denoiser)
    return make_sigmas(name, run.steps, sigma_min, sigma_max, schedule=getattr(denoiser, "schedule", None),
                       **options)


def sample_points(denoiser: Denoiser, sampler: str, sigmas: torch.Tensor, n: int, seed: int,
                  labels: torch.Tensor | None = None, guidance: float = 1.0, callback=None) -> torch.Tensor:
    """n points: prior noise at sigmas[0], then the sampler. With labels, classifier-free guidance at
    `guidance` (0: unconditional, 1: conditional, above 1: pushed further towards the class)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator) / denoiser.input_scale(sigmas[:1])
    extra_args, model = None, denoiser
    if labels is not None:
        null = torch.full_like(labels, denoiser.net.num_classes)
        model = CFGDenoiser(denoiser, guidance)
        extra_args = {"cond": {"class_label": labels}, "uncond": {"class_label": null}}
    with torch.no_grad():
        return get_sampler(sampler)(model, x, sigmas, extra_args=extra_args, callback=callback,
                                    generator=generator)


def class_accuracy(samples: torch.Tensor, labels: torch.Tensor, data: torch.Tensor,
                   data_labels: torch.Tensor) -> float:
    """Share of samples whose nearest data point has the class the sample was asked for."""
    nearest = torch.cat([torch.cdist(chunk, data).argmin(dim=1) for chunk in samples.split(4096)])
    return (data_labels[nearest] == labels).float().mean().item()


def save_samples(points: torch.Tensor, path: Path, labels: torch.Tensor | None = None) -> Path:
    """An .npy of float32 rows (x, y), or (x, y, label) for class-conditional samples, written atomically."""
    array = points.float().numpy()
    if labels is not None:
        array = np.concatenate([array, labels.float().numpy()[:, None]], axis=1)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return write_bytes_atomically(path, buffer.getvalue())


# ----- the lab ---------------------------------------------------------------------------

def check_config(config: ToyLabConfig) -> None:
    """Fail on a bad name before a minute of training, not after."""
    config.training.check()
    for run in config.runs:
        get_sampler(run.sampler)
        make_sigmas(run.sigmas or DEFAULT_SIGMAS[config.training.objective], run.steps, 0.1, 1.0,
                    schedule=config.training.discrete_schedule(), **dict(run.sigma_options))
    if config.num_samples < 2:
        raise ValueError(f"need at least 2 samples, got {config.num_samples}")
    if config.save is not None and config.save.suffix != ".npy":
        raise ValueError(f"--save writes NumPy arrays: give a path ending in .npy, got {config.save}")


def run_lab(config: ToyLabConfig, out: Path | None, log=print) -> LabResult:
    check_config(config)
    default = DEFAULT_SIGMAS[config.training.objective]
    config = replace(config, runs=tuple(replace(r, sigmas=r.sigmas or default) for r in config.runs))
    cloud = PointCloud(config.data if config.points_file is None else None, config.points_file, config.normalisation)
    training = config.training
    if training.objective == "edm":  # normalised data has the standard deviation `scale`
        training = replace(training, sigma_data=cloud.normalisation.scale)
    norm = cloud.normalisation
    log(f"data: {cloud.name}, normalised = (raw - ({norm.mean[0]:.4g}, {norm.mean[1]:.4g})) / {norm.std:.4g}"
        f" * {norm.scale:g}" + (f"; {cloud.num_classes} classes" if cloud.num_classes else ""))
    log(f"training a {training.objective} model ({describe_training(training)}) ...")
    losses: list[float] = []
    started = time.perf_counter()
    denoiser = train_denoiser(cloud.sample_labelled, training, cloud.num_classes,
                              on_step=lambda i, loss: losses.append(loss))
    train_seconds = time.perf_counter() - started
    tail = losses[-100:]
    final_loss = sum(tail) / len(tail)
    parameters = sum(p.numel() for p in denoiser.parameters())
    log(f"{parameters:,} parameters, {train_seconds:.1f} s; final loss (mean of last {len(tail)} steps): "
        f"{final_loss:.4f}")

    data, data_labels = cloud.sample_labelled(config.num_samples, torch.Generator().manual_seed(config.seed + 1))
    more = cloud.sample(config.num_samples, torch.Generator().manual_seed(config.seed + 2))
    floor = (_sliced(more, data), chamfer_distance(more, data))
    results = []
    for run in config.runs:
        started = time.perf_counter()
        sigmas = sampling_sigmas(denoiser, training.objective, run)
        samples = sample_points(denoiser, run.sampler, sigmas, config.num_samples, config.seed + 3, data_labels)
        results.append(RunResult(run, _sliced(samples, data), chamfer_distance(samples, data),
                                 time.perf_counter() - started, samples))
    log(f"distance between {config.num_samples:,} samples and {config.num_samples:,} data points "
        "(lower is better):")
    log(format_table(results, floor, config.target_chamfer))
    for note in same_sampler_notes([r.run for r in results]):
        log(textwrap.fill(note, width=100, subsequent_indent="  "))

    guidance = []
    if cloud.num_classes and config.runs and config.guidance:
        guidance = guidance_sweep(denoiser, training.objective, config, data, data_labels)
        log(format_guidance(guidance, config.runs[0]))
    if config.save is not None:
        first = results[0]
        save_samples(first.samples, config.save, data_labels)
        log(f"wrote {config.save} ({first.run.label}: {len(first.samples):,} rows of x, y"
            + (", label" if data_labels is not None else "") + "; normalised units, raw = x / "
            f"{norm.scale:g} * {norm.std:.4g} + mean)")
    result = LabResult(denoiser, cloud, results, floor, guidance, train_seconds, final_loss)
    if out is not None and config.figures:
        try:
            result.figures = draw_figures(result, config, out)
        except ImportError as error:
            log(f"figures skipped: {error}")
        for path in result.figures:
            log(f"wrote {path}")
    return result


def describe_training(t: ToyTrainingConfig) -> str:
    noise = {"eps": f"{t.schedule} betas {t.beta_start:g}..{t.beta_end:g}, T = {t.num_timesteps}",
             "v": f"{t.schedule} betas {t.beta_start:g}..{t.beta_end:g}, T = {t.num_timesteps}",
             "edm": f"ln sigma ~ N({t.p_mean:g}, {t.p_std:g}^2), sigma_data = {t.sigma_data:g}",
             "flow": f"{t.flow_times} flow times"}[t.objective]
    lr = f"lr {t.learning_rate:g}" + (" cosine-decayed" if t.lr_decay else " constant")
    return f"{noise}; {t.steps:,} steps x {t.batch_size} points, {lr}"


def _sliced(a: torch.Tensor, b: torch.Tensor) -> float:
    return sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0))


def guidance_sweep(denoiser, objective: str, config: ToyLabConfig, data: torch.Tensor,
                   data_labels: torch.Tensor) -> list[GuidanceResult]:
    """Sample with each guidance scale, asking for the data's own labels, and measure the pull."""
    run = config.runs[0]
    sigmas = sampling_sigmas(denoiser, objective, run)
    results = []
    for scale in config.guidance:
        samples = sample_points(denoiser, run.sampler, sigmas, len(data), config.seed + 3, data_labels, scale)
        results.append(GuidanceResult(scale, class_accuracy(samples, data_labels, data, data_labels),
                                      chamfer_distance(samples, data), samples, data_labels))
    return results


def format_table(results: list[RunResult], floor: tuple[float, float], target: float | None = None) -> str:
    header = f"{'sampler':<16}{'steps':>6}{'sigmas':>10}{'sliced W':>10}{'Chamfer':>10}{'seconds':>9}"
    if target is not None:
        header += f"{f'< {target:g}?':>9}"
    lines = [header, "-" * len(header)]
    for r in results:
        line = (f"{r.run.sampler:<16}{r.run.steps:>6}{r.run.sigmas or '':>10}{r.sliced_wasserstein:>10.4f}"
                f"{r.chamfer:>10.2f}{r.seconds:>9.1f}")
        if target is not None:
            line += f"{'pass' if r.chamfer < target else 'FAIL':>9}"
        lines.append(line)
    lines.append(f"{'(data vs data)':<32}{floor[0]:>10.4f}{floor[1]:>10.2f}   <- the best any sampler can score")
    return "\n".join(lines)


def format_guidance(results: list[GuidanceResult], run: SampleRun) -> str:
    lines = [f"classifier-free guidance ({run.sampler}, {run.steps} steps): samples asked for class c",
             f"{'guidance':>9}{'in class c':>12}{'Chamfer':>10}   (0 = unconditional, 1 = conditional, "
             "above 1 = guided)"]
    for r in results:
        lines.append(f"{r.scale:>9g}{100 * r.class_accuracy:>11.1f}%{r.chamfer:>10.2f}")
    lines.append("'in class c': the sample's nearest data point has class c. Guidance raises it, and shrinks "
                 "each class\ntowards its most typical points: the spread is lost, which Chamfer counts.")
    return "\n".join(lines)


def same_sampler_notes(runs: list[SampleRun]) -> list[str]:
    """A note for each group of samplers that are one update rule and ran with the same steps and sigmas."""
    notes = []
    for group, why in SAME_SAMPLERS:
        settings: dict[tuple, list[str]] = {}
        for run in runs:
            if run.sampler in group:
                settings.setdefault((run.steps, run.sigmas, run.sigma_options), []).append(run.sampler)
        names = sorted({n for same in settings.values() if len(set(same)) > 1 for n in same})
        if names:
            notes.append(f"note: {', '.join(names)} give the same numbers, and should: {why}")
    return notes


# ----- figures -----------------------------------------------------------------------------

def draw_figures(result: LabResult, config: ToyLabConfig, out: Path) -> list[Path]:
    from pixeldrift.toy import figures

    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(config.seed)
    data, labels = result.cloud.sample_labelled(1500, generator)
    noise = torch.randn(data.shape, generator=generator)
    scale = result.cloud.normalisation.scale
    written = [figures.forward_process(data, noise, tuple(scale * s for s in FORWARD_SIGMAS), out / "forward.png")]
    denoiser = _unconditional(result.denoiser) if result.cloud.num_classes else result.denoiser
    written.append(figures.drift_field(denoiser, tuple(scale * s for s in DRIFT_SIGMAS), data, out / "drift.png"))

    best = min(result.runs, key=lambda r: r.chamfer, default=None)  # the paths worth watching
    run = best.run if best else SampleRun("heun", 40)
    sigmas = sampling_sigmas(result.denoiser, config.training.objective, run)
    path: list[torch.Tensor] = []

    def record(i, x, denoised):  # VP scale x / sqrt(1 + sigma^2): noise starts as N(0, 1), not N(0, sigma^2)
        path.append(x / math.sqrt(1 + sigmas[i].item() ** 2))

    asked = None if labels is None else labels[:600]  # labelled data: the conditional model's paths
    final = sample_points(result.denoiser, run.sampler, sigmas, 600, config.seed, asked, callback=record)
    paths = torch.stack(path + [final])  # (steps + 1, N, 2)
    written.append(figures.trajectories(paths, data, f"Reverse paths of the best run: {run.label}",
                                        out / "trajectories.png"))
    panels = {f"{r.run.label}\nChamfer {r.chamfer:.1f}, SW {r.sliced_wasserstein:.3f}": r.samples
              for r in result.runs}
    written.append(figures.sample_grid(panels, data, "Samples (blue) over the data (orange), shared axes",
                                       out / "samples.png"))
    if result.guidance:
        panels = {f"guidance {g.scale:g}: {100 * g.class_accuracy:.0f}% in class": (g.samples, g.labels)
                  for g in result.guidance}
        written.append(figures.guidance_grid(panels, data, "Classifier-free guidance: colour = class asked for",
                                             out / "guidance.png"))
    frames = torch.linspace(0, len(paths) - 1, min(len(paths), 41)).round().long()  # first and last included
    written.append(figures.flow_gif(paths[frames], data, out / "flow.gif", frames.tolist()))
    return written


def _unconditional(denoiser):
    """The conditional model asked for no class (the null label it learned through label dropout)."""
    def call(x, sigma):
        null = torch.full((len(x),), denoiser.net.num_classes, dtype=torch.long)
        return denoiser(x, sigma, class_label=null)
    call.input_scale = denoiser.input_scale
    return call
