"""Sampler overhead: wall time per step spent outside the network, ours vs diffusers' schedulers.

The network is nearly free (one multiply), so what is timed is everything a
sampler adds: the parameterization (input scaling, timestep lookup, eps -> x0),
the update, noise, bookkeeping. Both sides run the same tensors in one process.

    python bench/sampler_overhead.py [--steps 50] [--shape 1,4,64,64] [--repeats 7]
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import time

import diffusers
import torch

from pixeldrift.diffusion.parameterization import EpsDenoiser, FlowDenoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule
from pixeldrift.sampling.samplers import SAMPLERS

SD = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
MATCHING = {
    "euler": (diffusers.EulerDiscreteScheduler, {}),
    "euler_ancestral": (diffusers.EulerAncestralDiscreteScheduler, {}),
    "heun": (diffusers.HeunDiscreteScheduler, {}),
    "ddim": (diffusers.DDIMScheduler, dict(set_alpha_to_one=True)),
    "ddpm": (diffusers.DDPMScheduler, {}),
    "dpmpp_2m": (diffusers.DPMSolverMultistepScheduler, dict(algorithm_type="dpmsolver++")),
    "dpmpp_2m_sde": (diffusers.DPMSolverMultistepScheduler, dict(algorithm_type="sde-dpmsolver++")),
    "unipc": (diffusers.UniPCMultistepScheduler, {}),
    "flow_euler": (diffusers.FlowMatchEulerDiscreteScheduler, None),
}


def cheap_net(x, t):
    return x * 0.5


def diffusers_sigmas(scheduler) -> torch.Tensor:
    if isinstance(scheduler, (diffusers.DDIMScheduler, diffusers.DDPMScheduler)):
        ab = scheduler.alphas_cumprod[scheduler.timesteps].double()
        return torch.cat([((1 - ab) / ab).sqrt(), torch.zeros(1, dtype=torch.float64)]).float()
    sigmas = scheduler.sigmas.float()
    if isinstance(scheduler, diffusers.HeunDiscreteScheduler):
        sigmas = torch.cat([sigmas[:1], sigmas[1:-1:2], sigmas[-1:]])
    return sigmas


def time_diffusers(name: str, steps: int, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    cls, extra = MATCHING[name]
    scheduler = cls(**SD, timestep_spacing="trailing", **extra) if extra is not None else cls(shift=3.0)
    generator = torch.Generator().manual_seed(0)
    takes_generator = "generator" in inspect.signature(scheduler.step).parameters
    scale = getattr(scheduler, "scale_model_input", lambda sample, t: sample)
    started = time.perf_counter()
    scheduler.set_timesteps(steps)
    sample = x
    for t in scheduler.timesteps:
        out = cheap_net(scale(sample, t), t)
        sample = scheduler.step(out, t, sample, **({"generator": generator} if takes_generator else {})).prev_sample
    return time.perf_counter() - started, diffusers_sigmas(scheduler)


def time_ours(name: str, sigmas: torch.Tensor, x: torch.Tensor) -> float:
    if name == "flow_euler":
        denoiser = FlowDenoiser(cheap_net)
    else:
        denoiser = EpsDenoiser(cheap_net, DiscreteSchedule.named("scaled_linear"))
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    SAMPLERS[name](denoiser, x, sigmas, generator=generator)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--shape", default="1,4,64,64", help="latent shape, comma-separated")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    torch.set_num_threads(1)
    print(f"per-step overhead, {args.steps} steps, latents {shape}, median of {args.repeats} runs, "
          f"torch {torch.__version__}, diffusers {diffusers.__version__}, 1 thread")
    print(f"{'sampler':<16}{'ours (us/step)':>16}{'diffusers (us/step)':>21}{'ours/diffusers':>16}")
    for name in MATCHING:
        theirs, ours = [], []
        for _ in range(args.repeats):
            seconds, sigmas = time_diffusers(name, args.steps, x)
            theirs.append(seconds)
            if name == "flow_euler":
                sigmas = sigmas / (1 - sigmas.clamp(max=0.999))  # flow time t to sigma space
            ours.append(time_ours(name, sigmas, x))
        per_step = lambda runs: statistics.median(runs) / args.steps * 1e6
        a, b = per_step(ours), per_step(theirs)
        print(f"{name:<16}{a:>16.1f}{b:>21.1f}{a / b:>16.2f}")


if __name__ == "__main__":
    main()
