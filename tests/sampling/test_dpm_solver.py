"""DPM-Solver (Lu et al. 2022): DPM-Solver-1 is DDIM, DPM-Solver-2 is second order with two calls per step.

The convergence order of both is checked with the others in test_sampler_convergence.py,
and DPM-Solver-2 against diffusers in test_sampler_reference_diffusers.py.
"""

import pytest
import torch

from pixeldrift.diffusion.gaussian_mixture import example_mixture
from pixeldrift.diffusion.schedules import DiscreteSchedule
from pixeldrift.sampling.samplers import SAMPLERS, STOCHASTIC_SAMPLERS
from pixeldrift.sampling.sigma_schedules import discrete_sigmas, karras_sigmas

MIXTURE = example_mixture()


def start(dtype=torch.float64):
    return torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=dtype) * 15


@pytest.mark.parametrize("sigmas", [karras_sigmas(10, 0.01, 15.0).double(),
                                    discrete_sigmas(DiscreteSchedule.named("scaled_linear"), 7, "leading").double()],
                         ids=["karras", "leading"])
def test_dpm_solver_1_is_ddim(sigmas):
    ours = SAMPLERS["dpm_solver_1"](MIXTURE.denoiser(), start(), sigmas)
    ddim = SAMPLERS["ddim"](MIXTURE.denoiser(), start(), sigmas)
    assert (ours - ddim).abs().max() < 1e-12  # float64: the same step, rounded differently
    ours32 = SAMPLERS["dpm_solver_1"](MIXTURE.denoiser(), start(torch.float32), sigmas.float())
    ddim32 = SAMPLERS["ddim"](MIXTURE.denoiser(), start(torch.float32), sigmas.float())
    assert (ours32 - ddim32).abs().max() < 1e-6


def test_dpm_solver_2_calls_the_model_twice_per_step_except_the_last():
    calls = []

    def counting(x, sigma):
        calls.append(sigma[0].item())
        return MIXTURE.denoise(x, sigma)

    sigmas = karras_sigmas(6, 0.01, 15.0).double()
    SAMPLERS["dpm_solver_2"](counting, start(), sigmas)
    s = sigmas.tolist()
    midpoints = [(s[i] * s[i + 1]) ** 0.5 for i in range(5)]  # the midpoints in lambda = -log sigma
    expected = [v for i in range(5) for v in (s[i], midpoints[i])] + [s[5]]
    assert calls == pytest.approx(expected, rel=1e-12)


def test_dpm_solver_2_with_r1_one_half_is_the_midpoint_rule():
    """For r1 = 0.5 Algorithm 1's correction reduces to one slope, taken at the midpoint; other r1 differ."""
    sigmas = karras_sigmas(8, 0.01, 15.0).double()
    default = SAMPLERS["dpm_solver_2"](MIXTURE.denoiser(), start(), sigmas)
    assert torch.equal(default, SAMPLERS["dpm_solver_2"](MIXTURE.denoiser(), start(), sigmas, r1=0.5))
    other = SAMPLERS["dpm_solver_2"](MIXTURE.denoiser(), start(), sigmas, r1=1.0)
    assert (other - default).abs().max() > 1e-3
    with pytest.raises(ValueError, match="r1 must be in"):
        SAMPLERS["dpm_solver_2"](MIXTURE.denoiser(), start(), sigmas, r1=0.0)


def test_dpm_solvers_are_deterministic():
    assert not {"dpm_solver_1", "dpm_solver_2"} & STOCHASTIC_SAMPLERS
