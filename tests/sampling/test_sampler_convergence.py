"""Deterministic samplers converge to the exact probability-flow ODE solution at their theoretical order."""

import math

import pytest
import torch

from pixeldrift.diffusion.gaussian_mixture import example_mixture, solve_probability_flow
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import karras_sigmas

SIGMA_MIN, SIGMA_MAX = 0.01, 20.0
STEPS = [16, 32, 64, 128]
# Observed order must sit within this band around the theoretical one.
ORDERS = {"euler": 1, "ddim": 1, "flow_euler": 1, "dpm_solver_1": 1, "heun": 2, "dpm_solver_2": 2, "dpmpp_2m": 2,
          "unipc": 3}


@pytest.fixture(scope="module")
def problem():
    mixture = example_mixture()
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = x * math.sqrt(SIGMA_MAX**2 + 1)
    end = solve_probability_flow(mixture, x, SIGMA_MAX, SIGMA_MIN, steps=2000)
    # every sampler's last step to sigma = 0 returns D(x, sigma_min): compare like with like
    exact = mixture.denoise(end, torch.tensor(SIGMA_MIN, dtype=torch.float64))
    return mixture, x, exact


def observed_order(mixture, x, exact, name):
    errors = []
    for n in STEPS:
        out = SAMPLERS[name](mixture.denoiser(), x, karras_sigmas(n, SIGMA_MIN, SIGMA_MAX).double())
        errors.append((out - exact).norm(dim=1).median().item())
    slope = -torch.linalg.lstsq(
        torch.tensor([[math.log(n), 1.0] for n in STEPS], dtype=torch.float64),
        torch.tensor([math.log(e) for e in errors], dtype=torch.float64)[:, None],
    ).solution[0, 0].item()
    return slope, errors


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_sampler_converges_at_its_order(problem, name):
    slope, errors = observed_order(*problem, name)
    assert abs(slope - ORDERS[name]) < 0.25, f"{name}: order {slope:.2f}, errors {errors}"
    assert errors[-1] < 0.02


def test_reference_solution_is_converged(problem):
    mixture, x, exact = problem
    finer = solve_probability_flow(mixture, x, SIGMA_MAX, SIGMA_MIN, steps=4000)
    finer = mixture.denoise(finer, torch.tensor(SIGMA_MIN, dtype=torch.float64))
    assert (finer - exact).abs().max().item() < 1e-8
