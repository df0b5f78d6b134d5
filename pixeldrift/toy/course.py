"""The 2-D tasks of the KAIST CS492(D) diffusion course (Fall 2024), as pixeldrift runs them.

What the course fixes, read from its assignment repositories (2d_plot_*_todo/):
  data      sklearn make_swiss_roll(n, noise=0, hole=True), columns x and z, then
            normalize(): (X - X.mean()) / X.std() * 2, one scalar mean and std (dataset.py)
  network   hidden layers [128, 128, 128], each multiplied by an MLP of a sinusoidal embedding of
            the timestep (network.py's TimeLinear; the student assembles SimpleNet from them)
  budget    5,000 Adam steps of 128 points (the notebooks' config); lr 1e-3, flow matching 5e-4
  noise     DDPM: eps prediction, linear betas 1e-4..0.02, T = 1000, uniform integer t (ddpm.py)
            flow matching: uniform t on {0, 1/1000, ..}, Euler steps (fm.py; sigma_min = 0.01 there)
  sampling  DDPM 1000 steps; DDIM 50 steps at t = 980, 960, .., 0 (our "leading");
            DPM-Solver-1 at 50 and -2 at 25 steps (same NFE) at t = 999, 979, .. (our "trailing");
            flow matching 50 Euler steps of dt = 1/50
  grade     Chamfer distance of 2,048 samples against 2,048 data points (chamferdist.py); full
            credit below 20 for DDPM and below 40 for the others. We aim at 20 for all.

Where pixeldrift differs, on purpose: our own network, TimeMLP (4 hidden layers of 192, each
scaled and shifted from the time embedding), in place of the student's; Adam at 3e-3 decayed
along a cosine to 0, for both models, where the course keeps 1e-3 (flow matching 5e-4)
constant. docs/course_lab.md measures what each choice is worth. Flow
time runs the other way (t = 1 is noise) with sigma_min = 0 (rectified flow); samplers step to
sigma = 0 at the end (the denoised guess), where the course's DPM-Solver stops at t = 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from pixeldrift.evaluate.distances import chamfer_distance
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.toy.datasets import PointCloud
from pixeldrift.toy.lab import SampleRun, sample_points, sampling_sigmas
from pixeldrift.toy.model import ToyTrainingConfig, train_denoiser

COURSE_SAMPLES = 2048   # samples and data points the Chamfer distance compares
COURSE_TARGET = 20.0    # the Chamfer distance each task must beat

COURSE_TRAINING = ToyTrainingConfig(objective="eps", schedule="linear", num_timesteps=1000, beta_start=1e-4,
                                    beta_end=0.02, flow_times="uniform", steps=5000, batch_size=128,
                                    learning_rate=3e-3, lr_decay=True, hidden=192, depth=4)


@dataclass(frozen=True)
class CourseTask:
    name: str
    assignment: str
    objective: str
    run: SampleRun


COURSE_TASKS = (
    CourseTask("DDPM", "1 (DDPM)", "eps", SampleRun("ddpm", 1000, "leading")),
    CourseTask("DDIM", "2 (DDIM, CFG)", "eps", SampleRun("ddim", 50, "leading")),
    CourseTask("DPM-Solver-1", "6 (DPM-Solver)", "eps", SampleRun("dpm_solver_1", 50, "trailing")),
    CourseTask("DPM-Solver-2", "6 (DPM-Solver)", "eps", SampleRun("dpm_solver_2", 25, "trailing")),
    CourseTask("Flow matching", "7 (flow matching)", "flow",
               SampleRun("flow_euler", 50, "flow", (("t_max", 0.999), ("t_min", 0.02)))),
)


def course_training(objective: str = "eps", seed: int = 0) -> ToyTrainingConfig:
    if objective not in ("eps", "flow"):
        raise ValueError(f"the course trains eps (DDPM) and flow models, not {objective!r}")
    return replace(COURSE_TRAINING, objective=objective, seed=seed)


def course_runs(objective: str = "eps") -> tuple[SampleRun, ...]:
    """The course's sampling runs for a model of this objective whose samplers pixeldrift has."""
    return tuple(task.run for task in COURSE_TASKS if task.objective == objective and task.run.sampler in SAMPLERS)


def course_data() -> PointCloud:
    return PointCloud("swissroll", normalisation="course")


@dataclass
class CourseScore:
    task: CourseTask
    seed: int
    chamfer: float
    train_seconds: float
    train_cpu_seconds: float
    sample_seconds: float
    sample_cpu_seconds: float


def score_course(seed: int, objective: str, tasks=COURSE_TASKS, log=print) -> list[CourseScore]:
    """Train one model of `objective` at the course's budget and grade each of its tasks."""
    cloud = course_data()
    started, cpu = time.perf_counter(), time.process_time()
    denoiser = train_denoiser(cloud.sample_labelled, course_training(objective, seed))
    train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    data = cloud.sample(COURSE_SAMPLES, torch.Generator().manual_seed(10_000 + seed))
    scores = []
    for task in tasks:
        if task.objective != objective:
            continue
        if task.run.sampler not in SAMPLERS:
            log(f"  {task.name}: sampler {task.run.sampler!r} is not in this pixeldrift yet; skipped")
            continue
        started, cpu = time.perf_counter(), time.process_time()
        sigmas = sampling_sigmas(denoiser, objective, task.run)
        samples = sample_points(denoiser, task.run.sampler, sigmas, COURSE_SAMPLES, 20_000 + seed)
        scores.append(CourseScore(task, seed, chamfer_distance(samples, data), train_seconds, train_cpu,
                                  time.perf_counter() - started, time.process_time() - cpu))
        log(f"  seed {seed} {task.name:<14} Chamfer {scores[-1].chamfer:9.3f}")
    return scores


GUIDANCE_RUN = SampleRun("ddim", 50, "leading")


def score_guidance(seed: int, scales=(0.0, 1.0, 3.0, 7.0)) -> tuple[list, float, float]:
    """The course's CFG idea in 2-D: an eps model of the 8-class Gaussian mixture at the course's budget,
    with labels dropped 10% of the time (the course's cfg_dropout), sampled by DDIM-50 at each scale.
    Returns the lab's GuidanceResult per scale, and the training and sampling seconds."""
    from pixeldrift.toy.lab import ToyLabConfig, guidance_sweep

    cloud = PointCloud("gaussians", normalisation="course")
    started = time.perf_counter()
    denoiser = train_denoiser(cloud.sample_labelled, course_training("eps", seed), cloud.num_classes)
    train_seconds = time.perf_counter() - started
    data, labels = cloud.sample_labelled(COURSE_SAMPLES, torch.Generator().manual_seed(10_000 + seed))
    config = ToyLabConfig(runs=(GUIDANCE_RUN,), guidance=tuple(scales), seed=20_000 + seed)
    started = time.perf_counter()
    results = guidance_sweep(denoiser, "eps", config, data, labels)
    return results, train_seconds, time.perf_counter() - started
