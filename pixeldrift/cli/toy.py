"""`pixeldrift toy`: the 2-D diffusion lab."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click
import torch

from pixeldrift.diffusion.schedules import BETA_SCHEDULES
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import MAX_STEPS, SIGMA_SCHEDULES
from pixeldrift.toy.course import COURSE_SAMPLES, COURSE_TARGET, course_runs, course_training
from pixeldrift.toy.datasets import DATASETS
from pixeldrift.toy.few_step import (METHODS, FewStepConfig, draw_figures, format_family_table, format_steps_table,
                                     run_few_step)
from pixeldrift.toy.lab import SampleRun, ToyLabConfig, run_lab
from pixeldrift.toy.model import OBJECTIVES, ToyTrainingConfig

LAB_SAMPLERS = "euler,heun,dpmpp_2m,unipc"


def _steps(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise click.BadParameter(f"expected an integer step count, got {text!r}") from None
    if not 1 <= n <= MAX_STEPS:
        raise click.BadParameter(f"step counts must be from 1 to {MAX_STEPS}, got {n}")
    return n


def _int_list(ctx, param, value: str | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(_steps(v) for v in value.split(","))


def _float_list(ctx, param, value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None


def _methods(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(","))
    if names == ("all",):
        return METHODS
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise click.BadParameter(f"unknown method {', '.join(unknown) or repr(value)}; accepted: "
                                 f"{', '.join(METHODS)}, or all")
    return tuple(dict.fromkeys(names))


def _runs(ctx, param, value: str | None) -> tuple[tuple[str, int | None, str | None], ...] | None:
    """'euler,heun' or 'ddpm:1000,ddim:50:leading': sampler[:steps[:sigmas]]."""
    if value is None:
        return None
    runs = []
    for item in (v.strip() for v in value.split(",")):
        parts = item.split(":")
        if len(parts) > 3 or parts[0] not in SAMPLERS:
            raise click.BadParameter(f"unknown sampler {parts[0]!r}; accepted: {', '.join(SAMPLERS)} "
                                     "(each as sampler[:steps[:sigmas]], e.g. ddim:50:leading)")
        sigmas = parts[2] if len(parts) == 3 else None
        if sigmas is not None and sigmas not in SIGMA_SCHEDULES:
            raise click.BadParameter(f"unknown sigma schedule {sigmas!r} in {item!r}; accepted: "
                                     f"{', '.join(SIGMA_SCHEDULES)}")
        runs.append((parts[0], _steps(parts[1]) if len(parts) > 1 else None, sigmas))
    return tuple(runs)


@click.command()
@click.option("--setup", type=click.Choice(["lab", "course"]), default="lab", show_default=True,
              help="lab: the quick EDM demo. course: the KAIST CS492(D) 2-D tasks (sklearn's swiss roll "
                   "scaled to std 2, DDPM eps model, 5,000 steps x 128 points, graded by Chamfer < 20).")
@click.option("--data", type=click.Choice(sorted(DATASETS)), default=None,
              help="The 2-D shape to learn [default: swissroll]. gaussians has 8 classes: the model is "
                   "then class-conditional and the lab measures guidance.")
@click.option("--points", "points_file", type=click.Path(dir_okay=False),
              help="Learn your own points instead: .npy, .csv or .txt rows of 'x y' (or 'x y label'), "
                   "at most 1,000,000.")
@click.option("--objective", type=click.Choice(OBJECTIVES), default=None,
              help="What the network predicts: eps (DDPM), v, edm (x0, preconditioned) or flow "
                   "(rectified-flow velocity) [default: edm; course: eps].")
@click.option("--schedule", type=click.Choice(BETA_SCHEDULES), default=None,
              help="eps and v models: the VP beta schedule over 1000 steps [default: linear 1e-4..0.02].")
@click.option("--sigmas", type=click.Choice(SIGMA_SCHEDULES), default=None,
              help="The noise levels samplers visit [default: leading for eps/v, karras for edm, "
                   "flow for flow].")
@click.option("--samplers", "runs", callback=_runs, default=None,
              help=f"Comma-separated samplers, each optionally sampler:steps[:sigmas], e.g. ddim:50:leading "
                   f"[default: {LAB_SAMPLERS}; course: its tasks' samplers].")
@click.option("--steps", "sample_steps", callback=_int_list, default=None,
              help="Comma-separated step counts for samplers given without :steps [default: 10,25].")
@click.option("--guidance", callback=_float_list, default=None,
              help="Classifier-free guidance scales to compare on labelled data [default: 0,1,3,7].")
@click.option("--train-steps", type=click.IntRange(1, 1_000_000), default=None,
              help="Optimizer steps [default: 2000; course: 5000].")
@click.option("--batch-size", type=click.IntRange(2, 65_536), default=None,
              help="Points per optimizer step [default: 512; course: 128].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True, max=1), default=None,
              help="Adam's learning rate, cosine-decayed to 0 [default: 2e-3; course: 3e-3].")
@click.option("--num-samples", type=click.IntRange(2, 20_000), default=None,
              help="Samples drawn per sampler and compared with as many data points [default: 2048].")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the first sampler's samples to this .npy (rows x, y[, label]), atomically.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for data, training and sampling.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs/toy"),
              show_default=True, help="Folder for the figures.")
@click.option("--no-figures", is_flag=True, help="Only train, sample and measure.")
@click.option("--method", "methods", callback=_methods, default=None,
              help=f"Instead of one diffusion model, train and compare few-step and other generative models "
                   f"on the same data and CPU budget: comma-separated from {', '.join(METHODS)}, or all. "
                   "Prints sliced Wasserstein at 1, 2, 4, 8 steps, path straightness, modes reached and "
                   "sampling time; writes couplings.png and few_steps.png.")
@click.option("--reflows", type=click.IntRange(1, 5), default=3, show_default=True,
              help="With --method reflow: rectified flows up to this k (1-RF is flow matching itself).")
@click.option("--budget", type=click.FloatRange(0.5, 3600), default=8.0, show_default=True,
              help="With --method: CPU seconds of training per model (--train-steps fixes steps instead).")
@click.option("--pairs", type=click.IntRange(64, 1_000_000), default=8192, show_default=True,
              help="With --method reflow or distill: (noise, sample) pairs drawn from each flow's ODE.")
def toy(setup, data, points_file, objective, schedule, sigmas, runs, sample_steps, guidance, train_steps,
        batch_size, lr, num_samples, save, seed, out, no_figures, methods, reflows, budget, pairs):
    """Watch diffusion work on 2-D points: train any objective, sample with any sampler, measure.

    Trains a small time-modulated MLP through pixeldrift's own denoiser adapters and
    losses, samples it with each sampler, prints the sliced Wasserstein and Chamfer
    distances between samples and data, and writes figures: forward.png (the data
    under noise), drift.png (where the model pulls points at each noise level),
    trajectories.png (reverse paths from noise onto the data), samples.png, flow.gif,
    and guidance.png for labelled data.

    euler, ddim, flow_euler (and dpm_solver_1) print the same numbers on the same
    sigmas: in sigma space they are one update rule. Compare them on the grids their
    papers use instead, e.g. --samplers ddim:50:leading,euler:50:karras.

    \b
    Examples:
      pixeldrift toy                                  # swiss roll, EDM model, four samplers
      pixeldrift toy --setup course                   # the course's DDPM/DDIM/DPM-Solver tasks
      pixeldrift toy --setup course --objective flow  # the course's flow matching task
      pixeldrift toy --objective eps --samplers ddpm:1000,ddim:50 --save samples.npy
      pixeldrift toy --data gaussians --guidance 0,1,3,7   # class-conditional, CFG
      pixeldrift toy --points my_shape.csv --train-steps 4000
      pixeldrift toy --data checkerboard --method all      # reflow, consistency, GAN, VAE, ...
      pixeldrift toy --data moons --method flow,reflow --reflows 3 --budget 5
    """
    if methods is not None:
        lab_only = {"--setup course": setup == "course", "--objective": objective, "--schedule": schedule,
                    "--sigmas": sigmas, "--samplers": runs, "--steps": sample_steps, "--guidance": guidance,
                    "--lr": lr, "--save": save}
        given = [name for name, value in lab_only.items() if value]
        if given:
            raise click.UsageError(f"{', '.join(given)} belong to the diffusion lab; --method trains each model "
                                   "with its own recipe")
        _few_step(data, points_file, methods, reflows, budget, pairs, train_steps, batch_size, num_samples, seed,
                  out, no_figures)
        return
    if setup == "course":
        if data or points_file:
            raise click.UsageError("--setup course trains on the course's swiss roll; drop --data/--points "
                                   "or use --setup lab")
        objective = objective or "eps"
        try:
            training = course_training(objective, seed)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--objective'") from None
        default_runs = course_runs(objective)
        config = ToyLabConfig(data="swissroll", normalisation="course", num_samples=COURSE_SAMPLES,
                              target_chamfer=COURSE_TARGET)
    else:
        if data and points_file:
            raise click.UsageError("give --data or --points, not both")
        training = ToyTrainingConfig(objective=objective or "edm", steps=2000, batch_size=512, learning_rate=2e-3,
                                     seed=seed)
        default_runs = ()
        config = ToyLabConfig(data=None if points_file else (data or "swissroll"), points_file=points_file)
    if schedule is not None:
        if training.objective not in ("eps", "v"):
            raise click.BadParameter(f"a beta schedule is for eps and v models; {training.objective} models draw "
                                     "sigma continuously", param_hint="'--schedule'")
        training.schedule = schedule
    training = replace(training, steps=train_steps or training.steps, batch_size=batch_size or training.batch_size,
                       learning_rate=lr or training.learning_rate, seed=seed)
    steps = sample_steps or (10, 25)
    if runs is None and default_runs:
        config.runs = default_runs
    else:
        config.runs = tuple(SampleRun(name, n, s or sigmas) for name, given, s in
                            (runs or [(name, None, None) for name in LAB_SAMPLERS.split(",")])
                            for n in ((given,) if given else steps))
    if sigmas is not None:
        config.runs = tuple(r if r.sigmas else replace(r, sigmas=sigmas) for r in config.runs)
    config.training, config.seed, config.save, config.figures = training, seed, save, not no_figures
    config.guidance = guidance if guidance is not None else config.guidance
    if num_samples and num_samples != config.num_samples and config.target_chamfer is not None:
        click.echo(f"note: the course grades {config.num_samples:,} samples; Chamfer, a sum, is not comparable "
                   f"at {num_samples:,}, so no pass/fail is shown")
        config.target_chamfer = None
    config.num_samples = num_samples or config.num_samples
    started = time.perf_counter()
    torch.manual_seed(seed)
    try:
        run_lab(config, out, log=click.echo)
    except ValueError as error:  # a bad points file or option combination: one line, exit status 1
        raise click.ClickException(str(error)) from None
    click.echo(f"done in {time.perf_counter() - started:.1f} s")


def _few_step(data, points_file, methods, reflows, budget, pairs, train_steps, batch_size, num_samples, seed,
              out, no_figures) -> None:
    """`toy --method`: the few-step and family comparison of pixeldrift.toy.few_step on one dataset."""
    if data and points_file:
        raise click.UsageError("give --data or --points, not both")
    config = FewStepConfig(data=None if points_file else (data or "swissroll"), points_file=points_file,
                           methods=methods, reflow_rounds=reflows, budget_seconds=budget, pairs=pairs,
                           train_steps=train_steps, batch_size=batch_size or 256, num_samples=num_samples or 10_000,
                           seed=seed)
    started = time.perf_counter()
    torch.manual_seed(seed)
    try:
        result = run_few_step(config, log=click.echo)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"\nsliced Wasserstein to {config.num_samples:,} fresh data points (lower is better), by sampling "
               "steps; straightness of the ODE paths (1 and 0 for straight lines):")
    click.echo(format_steps_table(result, config.step_counts))
    click.echo("\neach model at its usual setting (diffusion and flow: 32 Euler steps; the others: 1 step):")
    click.echo(format_family_table(result))
    if not no_figures:
        try:
            for path in draw_figures(result, out):
                click.echo(f"wrote {path}")
        except ImportError as error:
            click.echo(f"figures skipped: {error}")
    click.echo(f"done in {time.perf_counter() - started:.1f} s")
