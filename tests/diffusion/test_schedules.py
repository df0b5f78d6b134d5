import math

import pytest
import torch

from pixeldrift.diffusion.schedules import (
    DiscreteSchedule,
    flow_sigma_from_t,
    flow_t_from_sigma,
    flow_time_shift,
    rescale_zero_terminal_snr,
    vp_betas,
)


def test_scaled_linear_matches_stable_diffusion_endpoints():
    betas = vp_betas("scaled_linear", 1000, 0.00085, 0.012)
    assert betas[0].item() == pytest.approx(0.00085)
    assert betas[-1].item() == pytest.approx(0.012)
    # SD 1.x: the last alpha_bar is about 0.0047, i.e. sigma_max about 14.6
    assert DiscreteSchedule.from_betas(betas).sigma_max == pytest.approx(14.6146, rel=1e-4)


def test_cosine_alpha_bar_follows_the_closed_form():
    schedule = DiscreteSchedule.from_betas(vp_betas("cosine", 1000))
    t = torch.arange(1, 1001, dtype=torch.float64) / 1000
    closed = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    # identical until the 0.999 cap on beta bites at the very end
    assert torch.allclose(schedule.alphas_cumprod[:990], closed[:990], rtol=1e-10)


def test_zero_terminal_snr_ends_at_zero_signal_and_keeps_the_start():
    betas = vp_betas("scaled_linear")
    rescaled = rescale_zero_terminal_snr(betas)
    alpha_bar = torch.cumprod(1 - rescaled, 0)
    assert alpha_bar[-1].item() == pytest.approx(0.0, abs=1e-12)
    assert alpha_bar[0].item() == pytest.approx(torch.cumprod(1 - betas, 0)[0].item(), rel=1e-12)


@pytest.mark.parametrize("name", ["linear", "scaled_linear", "cosine"])
def test_timestep_and_sigma_are_inverse(name):
    schedule = DiscreteSchedule.named(name, beta_start=1e-4 if name == "linear" else 0.00085,
                                      beta_end=0.02 if name == "linear" else 0.012)
    t = torch.linspace(0, 999, 377, dtype=torch.float64)
    assert torch.allclose(schedule.timestep(schedule.sigma(t)), t, atol=1e-8)
    # integer timesteps land exactly on the table
    assert torch.allclose(schedule.sigma(torch.arange(1000.0).double()), schedule.sigmas, rtol=1e-12)


def test_flow_conversions_round_trip_and_shift_fixes_the_ends():
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    assert torch.allclose(flow_t_from_sigma(flow_sigma_from_t(t)), t)
    shifted = flow_time_shift(t, 3.0)
    assert (shifted > t).all()
    ends = flow_time_shift(torch.tensor([0.0, 1.0]), 3.0)
    assert ends.tolist() == [0.0, 1.0]


def test_bad_schedule_names_and_values_are_named():
    with pytest.raises(ValueError, match="unknown beta schedule 'quadratic'.*scaled_linear"):
        vp_betas("quadratic")
    with pytest.raises(ValueError, match="shift must be positive"):
        flow_time_shift(torch.tensor([0.5]), 0.0)
