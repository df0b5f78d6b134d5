"""Few-step models and the generative family, measured side by side on one 2-D dataset.

Trains, on the same data and the same CPU budget per training stage: a diffusion model
(EDM), a flow-matching model (1-rectified flow, the teacher), its reflows (2-RF, 3-RF, ...),
the 2-RF distilled to one step, consistency models distilled from the flow (CD) and trained
from data alone (CT), a GAN and a VAE. Then measures each: sliced Wasserstein distance to
fresh data at 1, 2, 4, 8 steps, the straightness of its ODE paths, mode coverage, and the
time to sample 1,000 points. bench/few_step_2d.py and `pixeldrift toy --method` print it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from pixeldrift.evaluate.distances import sliced_wasserstein
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import make_sigmas
from pixeldrift.toy.consistency import (ConsistencyConfig, consistency_sigmas, distill_consistency,
                                        sample_consistency, train_consistency)
from pixeldrift.toy.datasets import PointCloud
from pixeldrift.toy.family import FamilyConfig, train_gan, train_vae
from pixeldrift.toy.lab import sigma_range
from pixeldrift.toy.metrics import ModeGrid, length_ratio, liu_straightness, mode_grid
from pixeldrift.toy.model import ToyTrainingConfig, train_denoiser
from pixeldrift.toy.reflow import (COUPLING_SAMPLER, COUPLING_STEPS, Coupling, distill_one_step, draw_coupling,
                                   euler_flow_sigmas, ode_paths, reflow, sample_flow)

METHODS = ("diffusion", "flow", "reflow", "distill", "cd", "ct", "gan", "vae")
NEEDS_FLOW = frozenset({"flow", "reflow", "distill", "cd"})
STEP_COUNTS = (1, 2, 4, 8)
MANY_STEPS = 32          # diffusion and flow in the family table: 32 Euler steps
PATH_STEPS = 64          # Euler steps of the paths whose straightness is measured
PROBE_STEPS = 30         # steps timed to turn a CPU budget into a step count


@dataclass
class FewStepConfig:
    data: str | None = "checkerboard"
    points_file: str | None = None
    methods: tuple[str, ...] = METHODS
    reflow_rounds: int = 3           # rectified flows up to this k (3: 1-RF, 2-RF, 3-RF)
    budget_seconds: float = 10.0     # CPU seconds per training stage (the distillation gets a quarter)
    train_steps: int | None = None   # instead of a budget: this many steps per stage (reproducible)
    batch_size: int = 256
    pairs: int = 8192                # (noise, sample) pairs per reflow round
    num_samples: int = 10_000        # samples per measurement, against as many fresh data points
    step_counts: tuple[int, ...] = STEP_COUNTS
    seed: int = 0

    def check(self) -> None:
        check_training(self.methods, METHODS, self.budget_seconds, self.train_steps, 3600)
        if not 1 <= self.reflow_rounds <= 5:
            raise ValueError(f"reflow rounds must be from 1 to 5, got {self.reflow_rounds}")
        if not 64 <= self.num_samples <= 100_000 or not 64 <= self.pairs <= 1_000_000:
            raise ValueError("need 64 to 100,000 samples and 64 to 1,000,000 pairs")
        if self.batch_size < 2 or not all(1 <= n <= 1000 for n in self.step_counts):
            raise ValueError("need a batch of at least 2 and step counts from 1 to 1000")


def check_training(methods: tuple[str, ...], accepted: tuple[str, ...], budget_seconds: float,
                   train_steps: int | None, most_seconds: float) -> None:
    """The methods are known, the CPU budget from 0.5 to `most_seconds`, the step count (if any) sane."""
    unknown = sorted(set(methods) - set(accepted))
    if unknown or not methods:
        raise ValueError(f"unknown method {', '.join(unknown) or '(none)'}; accepted: {', '.join(accepted)}")
    if not 0.5 <= budget_seconds <= most_seconds:
        raise ValueError(f"the budget must be from 0.5 to {most_seconds:,g} CPU seconds, got {budget_seconds}")
    if train_steps is not None and not 1 <= train_steps <= 1_000_000:
        raise ValueError(f"train steps must be from 1 to 1,000,000, got {train_steps}")


@dataclass
class Row:
    """One trained model, measured."""

    name: str
    kind: str                           # ode | consistency | one-step
    sliced: dict[int, float]            # sampling steps -> sliced Wasserstein to fresh data
    family_steps: int                   # the steps of its family-table setting
    coverage: float                     # at that setting
    on_modes: float
    ms_per_1000: float                  # sampling 1,000 points at that setting, milliseconds
    train_steps: int
    train_seconds: float                # CPU seconds of its own training
    built_on_seconds: float = 0.0       # CPU seconds of what it needs first (teacher, pairs)
    length_ratio: float | None = None   # of its ODE paths; None where it has none
    straightness: float | None = None   # Liu et al.'s S of the same paths
    samples: dict[int, torch.Tensor] = field(default_factory=dict)  # sampling steps -> samples, for figures

    @property
    def family_sliced(self) -> float:
        return self.sliced[self.family_steps]


@dataclass
class FewStepResult:
    cloud: PointCloud
    grid: ModeGrid
    rows: list[Row]
    floor: float                        # sliced Wasserstein of data against more data
    data: torch.Tensor
    couplings: list[Coupling] = field(default_factory=list)   # the coupling each k-RF draws
    teacher_ode: float | None = None    # sliced W of 1-RF along its ODE as the pairs are drawn (Heun)
    paths: list[torch.Tensor] = field(default_factory=list)   # the ODE paths of each k-RF


# ----- training under a budget -------------------------------------------------------------

def steps_in_budget(train: Callable[[int], object], seconds: float, probe_steps: int = PROBE_STEPS) -> int:
    """How many steps of `train(steps)` fit in `seconds` of CPU time.

    A first short run warms up (the first calls into torch allocate and pick kernels); a
    second, timed, gives the cost of a step. Capped at 100,000 steps.
    """
    train(max(1, probe_steps // 3))
    started = time.process_time()
    train(probe_steps)
    per_step = (time.process_time() - started) / probe_steps
    return int(min(100_000, max(probe_steps, seconds / max(per_step, 1e-5))))


def train_in_budget(train: Callable[[int], object], seconds: float, steps: int | None = None,
                    probe_steps: int = PROBE_STEPS):
    """`train(n)` for as many steps as fit in `seconds` of CPU time (or exactly `steps`):
    (model, steps, CPU seconds it took)."""
    if steps is None:
        steps = steps_in_budget(train, seconds, probe_steps)
    started = time.process_time()
    model = train(steps)
    return model, steps, time.process_time() - started


def _train(config: FewStepConfig, train: Callable[[int], object], share: float = 1.0):
    """Train under the config's budget: (model, steps, CPU seconds)."""
    steps = None if config.train_steps is None else max(1, int(config.train_steps * share))
    return train_in_budget(train, config.budget_seconds * share, steps)


# ----- sampling each kind of model ---------------------------------------------------------

def _ode_sampler(objective: str):
    """Euler on the model's own grid: equal flow-time steps for flows, Karras sigmas for EDM."""
    def draw(model, noise: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
        if objective == "flow":
            return sample_flow(model, noise, steps)
        sigmas = make_sigmas("karras", steps, *sigma_range(model))
        with torch.no_grad():
            return get_sampler("euler")(model, noise / model.input_scale(sigmas[:1]), sigmas)
    return draw


def _consistency_sampler(model, noise: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
    sigmas = consistency_sigmas(steps, model.sigma_min)
    return sample_consistency(model, noise * sigmas[0], sigmas, generator=torch.Generator().manual_seed(seed))


def _latent_sampler(model, noise: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
    return model.sample(len(noise), torch.Generator().manual_seed(seed))


def _milliseconds_per_1000(draw: Callable[[], object], repeats: int = 5) -> float:
    """CPU milliseconds of `draw` (1,000 points), the fastest of `repeats` runs: CPU time, not wall
    time, so that a neighbour on a shared core does not count; one torch thread draws."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        draw()
        best = min(best, time.process_time() - started)
    return 1000 * best


# ----- the comparison ----------------------------------------------------------------------

class _Measure:
    """Measures models against one fixed set of fresh data points, from one fixed noise."""

    def __init__(self, config: FewStepConfig, cloud: PointCloud, grid: ModeGrid):
        self.config, self.grid = config, grid
        self.data = cloud.sample(config.num_samples, torch.Generator().manual_seed(config.seed + 101))
        self.noise = torch.randn(config.num_samples, 2, generator=torch.Generator().manual_seed(config.seed + 102))
        more = cloud.sample(config.num_samples, torch.Generator().manual_seed(config.seed + 103))
        self.floor = self.sliced(more)

    def sliced(self, samples: torch.Tensor) -> float:
        return sliced_wasserstein(samples, self.data, generator=torch.Generator().manual_seed(0))

    def row(self, name: str, kind: str, model, draw, step_counts, family_steps: int, trained) -> Row:
        _, steps, seconds = trained
        seed = self.config.seed + 104
        made = {n: draw(model, self.noise, n, seed) for n in step_counts}
        samples = made[family_steps]
        ms = _milliseconds_per_1000(lambda: draw(model, self.noise[:1000], family_steps, seed))
        return Row(name, kind, {n: self.sliced(s) for n, s in made.items()}, family_steps,
                   self.grid.coverage(samples), self.grid.on_modes(samples), ms, steps, seconds, samples=made)

    def straightness(self, row: Row, model, sigmas: torch.Tensor) -> torch.Tensor:
        paths, times = ode_paths(model, self.noise[:1000], sigmas)
        row.length_ratio, row.straightness = length_ratio(paths), liu_straightness(paths, times)
        return paths


def run_few_step(config: FewStepConfig, log=print) -> FewStepResult:
    """Train every model of `config.methods` on one dataset and measure it (see the module's docstring)."""
    config.check()
    cloud = PointCloud(config.data if config.points_file is None else None, config.points_file)
    grid = mode_grid(cloud)
    measure = _Measure(config, cloud, grid)
    result = FewStepResult(cloud, grid, [], measure.floor, measure.data)
    methods = set(config.methods)
    budget = (f"{config.train_steps:,} steps" if config.train_steps is not None
              else f"{config.budget_seconds:g} CPU seconds") + f" x {config.batch_size} points per stage"
    log(f"{cloud.name}: {len(grid.modes)} modes; training budget {budget}")
    ode_steps = tuple(sorted(set(config.step_counts) | {MANY_STEPS}))
    flow_config = ToyTrainingConfig(objective="flow", batch_size=config.batch_size, seed=config.seed)
    if "diffusion" in methods:
        edm = replace(flow_config, objective="edm", sigma_data=cloud.normalisation.scale)
        trained = _train(config, lambda n: train_denoiser(cloud.sample_labelled, replace(edm, steps=n)))
        row = measure.row("diffusion (EDM)", "ode", trained[0], _ode_sampler("edm"), ode_steps, MANY_STEPS, trained)
        measure.straightness(row, trained[0], make_sigmas("karras", PATH_STEPS, *sigma_range(trained[0])))
        _add(result, row, log)
    if methods & NEEDS_FLOW:
        _rectified_flows(config, cloud, measure, result, flow_config, ode_steps, methods, log)
    if "ct" in methods:
        cm = ConsistencyConfig(batch_size=config.batch_size, seed=config.seed)
        trained = _train(config, lambda n: train_consistency(cloud.sample, replace(cm, steps=n)))
        _add(result, measure.row("consistency training (CT)", "consistency", trained[0], _consistency_sampler,
                                 config.step_counts, 1, trained), log)
    family = FamilyConfig(batch_size=config.batch_size, seed=config.seed)
    for name, train in (("gan", train_gan), ("vae", train_vae)):
        if name in methods:
            trained = _train(config, lambda n: train(cloud.sample, replace(family, steps=n)))
            _add(result, measure.row(name.upper(), "one-step", trained[0], _latent_sampler, (1,), 1, trained), log)
    return result


def _rectified_flows(config, cloud, measure: _Measure, result: FewStepResult, flow_config, ode_steps, methods, log):
    """1-RF (the teacher), its reflows, the distilled 2-RF and consistency distillation from 1-RF."""
    trained = _train(config, lambda n: train_denoiser(cloud.sample_labelled, replace(flow_config, steps=n)))
    flows, built = [trained[0]], [trained[2]]  # built[i]: CPU seconds to have flows[i], all before included
    row = measure.row("1-RF (flow matching)", "ode", trained[0], _ode_sampler("flow"), ode_steps, MANY_STEPS, trained)
    result.paths.append(measure.straightness(row, trained[0], euler_flow_sigmas(PATH_STEPS)))
    _add(result, row, log)
    pairs_seconds: list[float] = []

    def couple(flow) -> Coupling:
        started = time.process_time()
        k = len(result.couplings) + 1  # the k-RF's map, seeded as rectified_flows seeds it
        result.couplings.append(draw_coupling(flow, config.pairs, seed=config.seed + 1000 * k))
        pairs_seconds.append(time.process_time() - started)
        return result.couplings[-1]

    rounds = config.reflow_rounds if "reflow" in methods else 2 if "distill" in methods else 1
    if rounds > 1:  # the map 2-RF learns: 1-RF carried by the coupling's solver, on the measuring noise
        result.teacher_ode = measure.sliced(sample_flow(flows[0], measure.noise, COUPLING_STEPS, COUPLING_SAMPLER))
    for k in range(1, rounds):  # the k-RF's coupling trains the (k+1)-RF
        coupling, again = couple(flows[-1]), replace(flow_config, seed=config.seed + k)
        trained = _train(config, lambda n: reflow(flows[-1], coupling, replace(again, steps=n)))
        row = measure.row(f"{k + 1}-RF", "ode", trained[0], _ode_sampler("flow"), ode_steps, 1, trained)
        row.built_on_seconds = built[-1] + pairs_seconds[-1]
        flows.append(trained[0])
        built.append(row.built_on_seconds + trained[2])
        result.paths.append(measure.straightness(row, trained[0], euler_flow_sigmas(PATH_STEPS)))
        _add(result, row, log)
    if "distill" in methods:  # Liu et al. distil 2-RF, on its own coupling
        coupling = result.couplings[1] if len(result.couplings) > 1 else couple(flows[1])
        trained = _train(config, lambda n: distill_one_step(flows[1], coupling, n, config.batch_size,
                                                            seed=config.seed), share=0.25)
        row = measure.row("2-RF distilled", "one-step", trained[0], _ode_sampler("flow"), (1,), 1, trained)
        row.built_on_seconds = built[1] + pairs_seconds[1]
        _add(result, row, log)
    if "cd" in methods:
        cm = ConsistencyConfig(batch_size=config.batch_size, seed=config.seed)
        trained = _train(config, lambda n: distill_consistency(flows[0], cloud.sample, replace(cm, steps=n)))
        row = measure.row("consistency distillation (CD)", "consistency", trained[0], _consistency_sampler,
                          config.step_counts, 1, trained)
        row.built_on_seconds = built[0]
        _add(result, row, log)


def _add(result: FewStepResult, row: Row, log) -> None:
    result.rows.append(row)
    log(f"  {row.name}: {row.train_steps:,} steps in {row.train_seconds:.1f} CPU s; sliced W "
        + ", ".join(f"{v:.4f} ({n})" for n, v in row.sliced.items()))


# ----- tables ------------------------------------------------------------------------------

def format_steps_table(result: FewStepResult, step_counts: tuple[int, ...]) -> str:
    """Table (a): sliced Wasserstein at each step count and the straightness of the ODE paths."""
    header = ("| model | " + " | ".join(f"SW {n} step{'s' if n > 1 else ''}" for n in step_counts)
              + " | path length / chord | Liu's S |")
    lines = [header, "|---|" + "---:|" * (len(step_counts) + 2)]
    for row in result.rows:
        if row.kind == "one-step" and row.name in ("GAN", "VAE"):
            continue
        cells = [f"{row.sliced[n]:.4f}" if n in row.sliced else "-" for n in step_counts]
        ratio = "-" if row.length_ratio is None else f"{row.length_ratio:.3f}"
        s = "-" if row.straightness is None else f"{row.straightness:.4f}"
        lines.append(f"| {row.name} | " + " | ".join(cells) + f" | {ratio} | {s} |")
    lines.append("| (data vs data) | " + " | ".join(f"{result.floor:.4f}" for _ in step_counts) + " | 1 | 0 |")
    if result.teacher_ode is not None:
        calls = 2 * COUPLING_STEPS - 1
        lines.append(f"\n1-RF along its ODE by {COUPLING_STEPS} {COUPLING_SAMPLER} steps ({calls} calls), as the pairs "
                     f"of 2-RF are drawn: sliced W {result.teacher_ode:.4f}")
    return "\n".join(lines)


def format_family_table(result: FewStepResult) -> str:
    """Table (b): quality, diversity and speed of every model at its family setting."""
    lines = ["| model | steps | sliced W | modes reached | on modes | ms / 1,000 points | train steps | "
             "train CPU s (+ built on) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result.rows:
        built = f" (+{row.built_on_seconds:.0f})" if row.built_on_seconds else ""
        lines.append(f"| {row.name} | {row.family_steps} | {row.family_sliced:.4f} | {100 * row.coverage:.0f}% | "
                     f"{100 * row.on_modes:.0f}% | {row.ms_per_1000:.2f} | {row.train_steps:,} | "
                     f"{row.train_seconds:.1f}{built} |")
    data_on = result.grid.on_modes(result.data)
    lines.append(f"| (data) | | {result.floor:.4f} | {100 * result.grid.coverage(result.data):.0f}% | "
                 f"{100 * data_on:.0f}% | | | |")
    return "\n".join(lines)


# ----- figures -----------------------------------------------------------------------------

def draw_figures(result: FewStepResult, out: Path, step_counts: tuple[int, ...] = STEP_COUNTS) -> list[Path]:
    """couplings.png (the k-RF panels) and few_steps.png (every model at each step count) under `out`."""
    from pixeldrift.toy import figures

    out.mkdir(parents=True, exist_ok=True)
    written = []
    flows = [r for r in result.rows if r.name.endswith("-RF") or r.name.startswith("1-RF")]
    if result.paths:
        # what each k-RF trained on: 1-RF independent pairs, k-RF the (k-1)-RF's ODE map
        independent = torch.randn(result.data.shape, generator=torch.Generator().manual_seed(0))
        pairs = [(independent, result.data)] + [(c.noise, c.data) for c in result.couplings]
        titles = [f"Z^{i + 1} (length/chord {r.length_ratio:.3f})" for i, r in enumerate(flows)]
        k = len(result.paths)
        written.append(figures.couplings(pairs[:k], result.paths, titles[:k], result.data, out / "couplings.png"))
    shown = {r.name: {n: r.samples[n][:3000] for n in step_counts if n in r.samples} for r in result.rows}
    written.append(figures.step_grid(shown, result.data[:3000], f"{result.cloud.name}: samples (blue) at 1-8 steps "
                                     "over the data (orange)", out / "few_steps.png"))
    return written


def family_points(result: FewStepResult) -> list[dict]:
    """What the quality/diversity/speed figure plots for one dataset."""
    return [{"name": r.name.split(" (")[0], "ms": r.ms_per_1000, "sliced": r.family_sliced,
             "coverage": r.coverage} for r in result.rows]
