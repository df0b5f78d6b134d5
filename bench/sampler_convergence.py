"""Accuracy per network evaluation on the analytic test bed: ours beside diffusers'.

Data is a Gaussian mixture, so the exact denoiser and the exact probability-flow
ODE solution are known. Each sampler runs on Stable Diffusion's scaled-linear
schedule with Karras sigmas (14.6 -> 0.029, then 0); the error is the median
distance to the exact solution over 512 points, in float64.

    python bench/sampler_convergence.py
"""

from __future__ import annotations

import diffusers
import torch

from pixeldrift.diffusion.gaussian_mixture import example_mixture, solve_probability_flow
from pixeldrift.diffusion.gaussian_mixture_networks import VPNetwork
from pixeldrift.diffusion.parameterization import EpsDenoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule
from pixeldrift.sampling.samplers import SAMPLERS

SD = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
CASES = {
    "euler": (diffusers.EulerDiscreteScheduler, {}, 1),
    "heun": (diffusers.HeunDiscreteScheduler, {}, 2),
    "dpmpp_2m": (diffusers.DPMSolverMultistepScheduler, dict(algorithm_type="dpmsolver++"), 1),
    "unipc": (diffusers.UniPCMultistepScheduler, {}, 1),
}
STEPS = (5, 10, 20, 40, 80)


def run_diffusers(cls, extra, steps, network, x_vp):
    scheduler = cls(**SD, use_karras_sigmas=True, **extra)
    scheduler.set_timesteps(steps)
    in_sigma_space = cls in (diffusers.EulerDiscreteScheduler, diffusers.HeunDiscreteScheduler)
    sigma_max = scheduler.sigmas[0].double()
    x = x_vp * (1 + sigma_max**2).sqrt() if in_sigma_space else x_vp
    for t in scheduler.timesteps:
        x = scheduler.step(network(scheduler.scale_model_input(x, t), t), t, x).prev_sample
    return x


def main() -> None:
    mixture, schedule = example_mixture(), DiscreteSchedule.named("scaled_linear")
    network = VPNetwork(mixture, schedule, "eps")
    sigma_min, sigma_max = schedule.sigma_min, schedule.sigma_max
    x_vp = torch.randn(512, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = x_vp * (1 + sigma_max**2) ** 0.5
    end = solve_probability_flow(mixture, x, sigma_max, sigma_min, steps=4000)
    exact = mixture.denoise(end, torch.tensor(sigma_min, dtype=torch.float64))
    print("median error to the exact ODE solution (lower is better); NFE = network evaluations")
    print(f"{'sampler':<10}{'steps':>6}{'NFE':>6}{'ours':>12}{'diffusers':>12}")
    for name, (cls, extra, evals_per_step) in CASES.items():
        for steps in STEPS:
            scheduler = cls(**SD, use_karras_sigmas=True, **extra)
            scheduler.set_timesteps(steps)
            sigmas = scheduler.sigmas.double()
            if cls is diffusers.HeunDiscreteScheduler:
                sigmas = torch.cat([sigmas[:1], sigmas[1:-1:2], sigmas[-1:]])
            quantize = name in ("dpmpp_2m", "unipc")  # these schedulers round the network's timestep
            ours = SAMPLERS[name](EpsDenoiser(network, schedule, quantize=quantize), x, sigmas)
            theirs = run_diffusers(cls, extra, steps, network, x_vp)
            err = lambda out: (out - exact).norm(dim=1).median().item()
            nfe = steps * evals_per_step - (evals_per_step - 1)
            print(f"{name:<10}{steps:>6}{nfe:>6}{err(ours):>12.2e}{err(theirs):>12.2e}")


if __name__ == "__main__":
    main()
