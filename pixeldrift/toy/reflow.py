"""Rectified flow and reflow on 2-D points (Liu, Gong & Liu 2022, "Flow Straight and Fast").

Notation: Liu et al. write Z_0 for noise and Z_1 for data, time running 0 -> 1. pixeldrift's
flow models (FlowDenoiser) use x_t = (1 - t) x0 + t eps, so t = 1 is noise: the same lines,
walked the other way. A *coupling* is a set of (noise, data) pairs; the first flow learns
from the independent coupling (any noise with any data point), which is ordinary flow
matching (their eq. 1, min_v int_0^1 E ||(X_1 - X_0) - v(X_t, t)||^2 dt). Its ODE then maps
each noise point to one sample: a new, deterministic coupling. *Reflow* trains again on that
coupling, Z^{k+1} = RectFlow((Z_0^k, Z_1^k)); every round the paths cross less and bend less
(their Section 3 shows the best straightness S over K rounds falls like E ||X_1 - X_0||^2 / K),
so fewer Euler steps follow them. The k-rectified flow is the model after k - 1 reflows: 1-RF
is the flow-matching model itself. A straight enough flow can be distilled into a one-step
map (their distillation step, here with the squared error).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch

from pixeldrift.diffusion.losses import denoising_loss
from pixeldrift.diffusion.parameterization import Denoiser
from pixeldrift.diffusion.schedules import flow_t_from_sigma
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import make_sigmas
from pixeldrift.toy.model import ToyTrainingConfig, optimise, train_denoiser, training_sigmas

FLOW_T_MAX = 0.999      # sampling starts at flow time 0.999 (sigma 999): sigma space cannot hold t = 1
COUPLING_SAMPLER = "heun"
COUPLING_STEPS = 32     # Heun steps (63 network calls) along the teacher's ODE for each new pair


def euler_flow_sigmas(steps: int) -> torch.Tensor:
    """`steps` equal steps in flow time from 0.999 to 0, in sigma space (the last step is as long as the others)."""
    if steps == 1:
        return make_sigmas("flow", 1, t_max=FLOW_T_MAX)
    return make_sigmas("flow", steps, t_max=FLOW_T_MAX, t_min=FLOW_T_MAX / steps)


def sample_flow(model: Denoiser, noise: torch.Tensor, steps: int, sampler: str = "flow_euler",
                callback=None) -> torch.Tensor:
    """Carry noise (N, d) along the model's ODE from t = 0.999 to 0 in `steps` steps of `sampler`."""
    sigmas = euler_flow_sigmas(steps)
    x = noise / model.input_scale(sigmas[:1])  # x_t = x / (1 + sigma) is the noise itself
    with torch.no_grad():
        return get_sampler(sampler)(model, x, sigmas, callback=callback)


def ode_paths(model: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every state of an Euler run over `sigmas`, in the flow frame x_t = x / (1 + sigma), (steps + 1, N, d),
    and its flow times t = sigma / (1 + sigma). Any denoiser's ODE can be drawn in this frame, where the
    rectified flow's paths are straight lines; the run starts from noise / c_in(sigmas[0])."""
    states: list[torch.Tensor] = []
    x = noise / model.input_scale(sigmas[:1])
    with torch.no_grad():
        end = get_sampler("euler")(model, x, sigmas, callback=lambda i, x, d: states.append(x / (1 + sigmas[i])))
    return torch.stack(states + [end]), flow_t_from_sigma(sigmas.double())


def flow_paths(model: Denoiser, noise: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ode_paths on `steps` equal steps of flow time: for a flow model x_t starts as the noise itself."""
    return ode_paths(model, noise, euler_flow_sigmas(steps))


@dataclass
class Coupling:
    """Pairs (noise, data), row by row: Liu et al.'s (Z_0, Z_1). Reflow trains on them."""

    noise: torch.Tensor  # (N, d)
    data: torch.Tensor   # (N, d)

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(0, len(self.noise), (n,), generator=generator)
        return self.noise[pick], self.data[pick]


def draw_coupling(model: Denoiser, n: int, seed: int, steps: int = COUPLING_STEPS,
                  sampler: str = COUPLING_SAMPLER) -> Coupling:
    """n fresh noise points and where the model's ODE carries them (Heun by default: a second-order
    solver, so the pairs are the flow's own map and not its discretisation error)."""
    noise = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
    return Coupling(noise, sample_flow(model, noise, steps, sampler))


def reflow(previous: Denoiser, coupling: Coupling, config: ToyTrainingConfig, on_step=None) -> Denoiser:
    """One round of reflow: a copy of `previous` trained on `coupling` with the flow-matching loss.

    Liu et al. 2022, eq. 1 with (X_0, X_1) drawn from the coupling instead of independently;
    as in their experiments, the new flow starts from the previous one's weights.
    In sigma space x = x0 + sigma * eps is x_t = (1 - t) x0 + t eps after the adapter's
    scaling, so denoising_loss with the pair's own noise is that loss exactly.
    """
    model = copy.deepcopy(previous).train()
    generator = torch.Generator().manual_seed(config.seed)
    draw_sigma = training_sigmas(config)

    def batch_loss(step: int) -> torch.Tensor:
        noise, data = coupling.draw(config.batch_size, generator)
        return denoising_loss(model, data, draw_sigma(config.batch_size, generator), noise).mean()

    optimise(model, batch_loss, config.steps, config.learning_rate, config.lr_decay, config.ema, on_step)
    return model.eval()


def rectified_flows(sample_labelled, config: ToyTrainingConfig, rounds: int = 3, pairs: int = 8192,
                    reflow_steps: int | None = None, log=None) -> tuple[list[Denoiser], list[Coupling]]:
    """The 1-, 2-, ..., `rounds`-rectified flows and the coupling each one made.

    1-RF is flow matching on fresh data (`config.steps` steps); each later round draws
    `pairs` pairs from the newest flow and reflows on them for `reflow_steps` steps
    (default: config.steps). Returns the flows and, for each, the coupling its ODE draws.
    """
    if config.objective != "flow":
        raise ValueError(f"rectified flow trains a flow model, got objective {config.objective!r}")
    if not 1 <= rounds <= 8:
        raise ValueError(f"rounds must be from 1 to 8, got {rounds}")
    flows = [train_denoiser(sample_labelled, config)]
    couplings: list[Coupling] = []
    again = replace(config, steps=reflow_steps or config.steps)
    for k in range(1, rounds + 1):
        couplings.append(draw_coupling(flows[-1], pairs, seed=config.seed + 1000 * k))
        if k < rounds:
            if log:
                log(f"reflow round {k}: {pairs:,} pairs from {k}-RF, {again.steps:,} steps -> {k + 1}-RF")
            flows.append(reflow(flows[-1], couplings[-1], replace(again, seed=config.seed + k)))
    return flows, couplings


def distill_one_step(flow: Denoiser, coupling: Coupling, steps: int, batch_size: int = 256,
                     learning_rate: float = 1e-3, seed: int = 0, on_step=None) -> Denoiser:
    """A one-step model: a copy of `flow` trained so that one Euler step from the noise lands on the pair's data.

    Liu et al. 2022's distillation of a k-rectified flow, min E ||Z_1 - T(Z_0)||^2 over the
    flow's own coupling, with T the flow's one-step map: D(noise / c_in(sigma_max), sigma_max),
    which is exactly what a one-step Euler sampler returns.
    """
    model = copy.deepcopy(flow).train()
    generator = torch.Generator().manual_seed(seed)
    sigma = euler_flow_sigmas(1)[0]
    start = 1 / model.input_scale(sigma)

    def batch_loss(step: int) -> torch.Tensor:
        noise, data = coupling.draw(batch_size, generator)
        one_step = model(noise * start, sigma.expand(batch_size))
        return (one_step - data).pow(2).sum(1).mean()

    optimise(model, batch_loss, steps, learning_rate, on_step=on_step)
    return model.eval()
