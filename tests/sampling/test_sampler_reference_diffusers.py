"""Our samplers agree with diffusers' schedulers, step by step, on the same model function.

Both sides drive the same exact Gaussian-mixture network (tests/gmm_networks.py),
in float32, from the same initial noise; diffusers' per-step samples are
compared with ours after mapping both to the VP scale x / sqrt(1 + sigma^2),
the scale the network sees. Our samplers get the scheduler's own sigma
sequence: what is tested here is the step, the spacings are tested below.

Deliberate differences, each handled where it arises:
- DDIM: Stable Diffusion's config sets set_alpha_to_one=False, which stops at
  sigma(t=0) ~ 0.029 and returns a still-noisy sample; our schedules always end at
  sigma = 0, so DDIM is compared with set_alpha_to_one=True.
- DDIM and DDPM: diffusers steps from t to t - T // n, not to the next timestep
  of its own list; with trailing spacing and n not dividing T (e.g. 12 steps:
  999 -> 916 -> 832) it moves the sample to t = 833 and then tells the network
  it is at 832, an upstream inconsistency (0.24% of the scale at step 2). We
  always step to the next sigma we visit, so the comparison uses n = 10 steps,
  where both readings coincide.
- Start: diffusers' Euler-type schedulers start from sigma_max * noise under
  linspace or trailing spacing but from sqrt(sigma_max^2 + 1) * noise under
  leading; the second is the VP prior (unit variance at the network's input),
  which we always use. Both sides therefore start from that same sample here.
- Flow matching: sigma space cannot hold t = 1 (sigma = t / (1 - t)), so the
  flow schedule starts at t = 0.999 on both sides.
- DPM-Solver and UniPC in diffusers round the network's timestep under Karras
  sigmas while Euler keeps it fractional; our EpsDenoiser(quantize=True) matches the former.
- Multistep samplers on leading and linspace: diffusers' multistep schedulers
  space those differently from its DDIM (T // (n + 1) and n + 1 points, dropping
  the last), so their last non-zero timestep is not near 0 and no step is long.
  On DDIM's spacings, ours, the step into sigma(t=0 or 1) is 2.5-6x the one before
  it in log sigma; we take it at first order (samplers._lower_order_final), and
  diffusers, given those timesteps, extrapolates across it at second order.
"""

import inspect
import math

import diffusers
import pytest
import torch

from pixeldrift.diffusion.gaussian_mixture import example_mixture
from pixeldrift.diffusion.gaussian_mixture_networks import FlowNetwork, VPNetwork
from pixeldrift.diffusion.parameterization import EpsDenoiser, FlowDenoiser, VDenoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import discrete_sigmas, discrete_timesteps, flow_sigmas, karras_sigmas

SD = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
STEPS = 10
MULTISTEP = ("dpmpp_2m", "dpmpp_2m_sde", "unipc")
TOLERANCE = 1e-4
MIXTURE = example_mixture(torch.float32)
SCHEDULE = DiscreteSchedule.named("scaled_linear")

# scheduler class, its extra config, our sampler, whether diffusers keeps x in sigma space
CASES = {
    "ddim": (diffusers.DDIMScheduler, dict(set_alpha_to_one=True, clip_sample=False), "ddim", False),
    "ddpm": (diffusers.DDPMScheduler, dict(clip_sample=False, variance_type="fixed_small"), "ddpm", False),
    "euler": (diffusers.EulerDiscreteScheduler, {}, "euler", True),
    "euler_ancestral": (diffusers.EulerAncestralDiscreteScheduler, {}, "euler_ancestral", True),
    "heun": (diffusers.HeunDiscreteScheduler, {}, "heun", True),
    "dpmpp_2m": (diffusers.DPMSolverMultistepScheduler, dict(algorithm_type="dpmsolver++", solver_order=2),
                 "dpmpp_2m", False),
    "dpmpp_2m_sde": (diffusers.DPMSolverMultistepScheduler,
                     dict(algorithm_type="sde-dpmsolver++", solver_order=2), "dpmpp_2m_sde", False),
    "unipc": (diffusers.UniPCMultistepScheduler, dict(solver_order=2, solver_type="bh2", predict_x0=True),
              "unipc", False),
}


def scheduler_sigmas(scheduler) -> torch.Tensor:
    """The decreasing sigma sequence, ending in 0, that a diffusers scheduler visits once per step."""
    if hasattr(scheduler, "sigmas") and not isinstance(scheduler, diffusers.DDPMScheduler):
        sigmas = scheduler.sigmas.float()
        if isinstance(scheduler, diffusers.HeunDiscreteScheduler):  # (s0, s1, s1, s2, s2, ..., 0)
            sigmas = torch.cat([sigmas[:1], sigmas[1:-1:2], sigmas[-1:]])
        return sigmas
    alpha_bar = scheduler.alphas_cumprod[scheduler.timesteps].double()
    return torch.cat([((1 - alpha_bar) / alpha_bar).sqrt(), torch.zeros(1, dtype=torch.float64)]).float()


def run_diffusers(scheduler, network, start, seed):
    """diffusers' own loop from `start` (in the scheduler's space); returns the sample after each step."""
    generator = torch.Generator().manual_seed(seed)
    takes_generator = "generator" in inspect.signature(scheduler.step).parameters
    x, samples = start, []
    scale_input = getattr(scheduler, "scale_model_input", lambda sample, t: sample)
    for k, t in enumerate(scheduler.timesteps):
        model_out = network(scale_input(x, t), t)
        options = {"generator": generator} if takes_generator else {}
        x = scheduler.step(model_out, t, x, **options).prev_sample
        last = k == len(scheduler.timesteps) - 1
        if getattr(scheduler, "state_in_first_order", True) or last:  # Heun: after its second stage
            samples.append(x)
    return samples


def run_ours(sampler, denoiser, noise, sigmas, seed, **options):
    generator = torch.Generator().manual_seed(seed)
    seen = []
    out = SAMPLERS[sampler](denoiser, noise * (1 + sigmas[0] ** 2).sqrt(), sigmas,
                            callback=lambda i, x, d: seen.append(x), generator=generator, **options)
    return seen[1:] + [out]


def assert_agree(ours, theirs, sigmas, in_sigma_space):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        scale = (1 + sigmas[i + 1] ** 2).sqrt()
        a_vp = a / scale
        b_vp = b / scale if in_sigma_space else b
        err = (a_vp - b_vp).abs().max().item()
        assert err < TOLERANCE, f"step {i}: max abs difference {err:.2e}"


def noise_for(seed=0, shape=(16, 2)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def diffusers_start(noise, sigmas, in_sigma_space):
    return noise * (1 + sigmas[0] ** 2).sqrt() if in_sigma_space else noise


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("spacing", ["leading", "trailing"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_sampler_agrees_with_diffusers(case, spacing, prediction):
    cls, extra, sampler, in_sigma_space = CASES[case]
    scheduler = cls(**SD, prediction_type=prediction, timestep_spacing=spacing, steps_offset=1, **extra)
    scheduler.set_timesteps(STEPS)
    kind = "eps" if prediction == "epsilon" else "v"
    network = VPNetwork(MIXTURE, SCHEDULE, kind)
    adapter = (EpsDenoiser if kind == "eps" else VDenoiser)(network, SCHEDULE)
    noise, sigmas = noise_for(), scheduler_sigmas(scheduler)
    theirs = run_diffusers(scheduler, network, diffusers_start(noise, sigmas, in_sigma_space), seed=5)
    ours = run_ours(sampler, adapter, noise, sigmas, seed=5)
    assert_agree(ours, theirs, sigmas, in_sigma_space)


@pytest.mark.parametrize("case", ["euler", "heun", "dpmpp_2m", "unipc"])
def test_sampler_agrees_with_diffusers_under_karras_sigmas(case):
    cls, extra, sampler, in_sigma_space = CASES[case]
    scheduler = cls(**SD, use_karras_sigmas=True, **extra)
    scheduler.set_timesteps(STEPS)
    network = VPNetwork(MIXTURE, SCHEDULE, "eps")
    rounds_timesteps = case in ("dpmpp_2m", "unipc")
    adapter = EpsDenoiser(network, SCHEDULE, quantize=rounds_timesteps)
    noise, sigmas = noise_for(1), scheduler_sigmas(scheduler)
    theirs = run_diffusers(scheduler, network, diffusers_start(noise, sigmas, in_sigma_space), 0)
    assert_agree(run_ours(sampler, adapter, noise, sigmas, 0), theirs, sigmas, in_sigma_space)


# ----- lower_order_final and DPM-Solver-2 ---------------------------------------------------

def run_both(case, spacing, steps, final_sigmas_type, timesteps=None, **ours_options):
    """diffusers (lower_order_final=True, its default) and ours on diffusers' sigmas, step by step."""
    cls, extra, sampler, _ = CASES[case]
    scheduler = cls(**SD, timestep_spacing=spacing, steps_offset=1, final_sigmas_type=final_sigmas_type, **extra)
    scheduler.set_timesteps(steps)
    if timesteps is not None:  # UniPC takes no custom timesteps: replace them, and their sigmas, after the fact
        table = ((1 - scheduler.alphas_cumprod) / scheduler.alphas_cumprod) ** 0.5
        scheduler.timesteps = torch.tensor(timesteps)
        scheduler.sigmas = torch.cat([table[scheduler.timesteps], torch.zeros(1)])
    network = VPNetwork(MIXTURE, SCHEDULE, "eps")
    noise, sigmas = noise_for(4), scheduler_sigmas(scheduler)
    theirs = run_diffusers(scheduler, network, noise, seed=6)
    ours = run_ours(sampler, EpsDenoiser(network, SCHEDULE), noise, sigmas, 6, **ours_options)
    return ours, theirs, sigmas


@pytest.mark.parametrize("final", ["zero", "sigma_min"])
@pytest.mark.parametrize("steps", [5, 8, 10])
@pytest.mark.parametrize("spacing", ["leading", "linspace"])
@pytest.mark.parametrize("case", MULTISTEP)
def test_multistep_agrees_with_diffusers_lower_order_final(case, spacing, steps, final):
    """Ending at sigma_min, diffusers takes the final step at first order below 15 steps, as we do;
    ending at 0, that step is the step to 0, first order on both sides."""
    ours, theirs, sigmas = run_both(case, spacing, steps, final)
    assert (sigmas[-1] > 0) == (final == "sigma_min")
    assert_agree(ours, theirs, sigmas, in_sigma_space=False)


@pytest.mark.parametrize("steps", [5, 8, 10])
@pytest.mark.parametrize("spacing", ["leading", "linspace"])
@pytest.mark.parametrize("case", ["dpmpp_2m", "unipc"])
def test_on_ddim_spacings_we_depart_from_diffusers_only_at_the_long_step(case, spacing, steps):
    timesteps = discrete_timesteps(steps, 1000, spacing, 1 if spacing == "leading" else 0).tolist()
    without_rule, theirs, sigmas = run_both(case, spacing, steps, "zero", timesteps, lower_order_final=False)
    assert_agree(without_rule, theirs, sigmas, in_sigma_space=False)
    ours, _, _ = run_both(case, spacing, steps, "zero", timesteps)
    assert_agree(ours[:-2], theirs[:-2], sigmas, in_sigma_space=False)
    assert (ours[-2] - theirs[-2]).abs().max() > 1e-2  # into sigma(t=0 or 1): first order here, second there


@pytest.mark.parametrize("steps", [5, 10])
@pytest.mark.parametrize("spacing", ["leading", "linspace", "trailing"])
def test_dpm_solver_2_agrees_with_diffusers_singlestep(spacing, steps):
    """DPMSolverSinglestepScheduler (algorithm_type="dpmsolver", order 2) on a grid whose odd points are
    our midpoints in lambda: each of its order-2 updates is one of our steps. It needs a non-zero
    final sigma for "dpmsolver", and lower_order_final=False to keep the final pair second order."""
    outer = discrete_sigmas(SCHEDULE, steps + 1, spacing, 1 if spacing == "leading" else 0)[:-1]  # non-zero
    o = outer.tolist()
    grid = [v for k in range(steps) for v in (o[k], math.sqrt(o[k] * o[k + 1]))] + [o[-1]]
    scheduler = diffusers.DPMSolverSinglestepScheduler(**SD, algorithm_type="dpmsolver", solver_order=2,
                                                       final_sigmas_type="sigma_min", lower_order_final=False)
    scheduler.set_timesteps(timesteps=list(range(2 * steps, 0, -1)))  # sets the step count; replaced below
    scheduler.sigmas = torch.tensor(grid, dtype=torch.float32)
    scheduler.timesteps = SCHEDULE.timestep(scheduler.sigmas[:-1])  # fractional, as our adapter computes
    assert scheduler.order_list == [1, 2] * steps
    network, noise = VPNetwork(MIXTURE, SCHEDULE, "eps"), noise_for(3)
    theirs = run_diffusers(scheduler, network, noise, 0)[1::2]  # after each order-2 update
    ours = run_ours("dpm_solver_2", EpsDenoiser(network, SCHEDULE), noise, outer, 0)
    assert_agree(ours, theirs, outer, in_sigma_space=False)


def test_flow_euler_agrees_with_diffusers_flow_match():
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=1.0)
    ours_sigmas = flow_sigmas(STEPS, shift=3.0)  # sigma space; t_max = 0.999
    t = ours_sigmas / (1 + ours_sigmas)
    scheduler.set_timesteps(sigmas=t[:-1].tolist())
    network = FlowNetwork(MIXTURE)
    noise = noise_for(2)
    generator_seed = 0
    theirs = run_diffusers(scheduler, network, noise, generator_seed)  # x_t at t_max is the noise
    seen = []
    out = SAMPLERS["flow_euler"](FlowDenoiser(network), noise * (1 + ours_sigmas[0]), ours_sigmas,
                                 callback=lambda i, x, d: seen.append(x))
    for i, (a, b) in enumerate(zip(seen[1:] + [out], theirs)):
        a_t = a / (1 + ours_sigmas[i + 1])  # back to x_t, diffusers' variable
        assert (a_t - b).abs().max().item() < TOLERANCE, f"step {i}"


# ----- spacings and sigma schedules -------------------------------------------------------

@pytest.mark.parametrize("steps", [1, 7, 10, 25, 50, 999])
@pytest.mark.parametrize("spacing,offset", [("leading", 1), ("leading", 0), ("linspace", 0), ("trailing", 0)])
def test_timestep_spacing_matches_diffusers_ddim(spacing, offset, steps):
    scheduler = diffusers.DDIMScheduler(**SD, timestep_spacing=spacing, steps_offset=offset)
    scheduler.set_timesteps(steps)
    assert discrete_timesteps(steps, 1000, spacing, offset).tolist() == scheduler.timesteps.tolist()


@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_discrete_sigmas_match_diffusers_euler(spacing):
    scheduler = diffusers.EulerDiscreteScheduler(**SD, timestep_spacing=spacing, steps_offset=1)
    scheduler.set_timesteps(20)
    t = discrete_timesteps(20, 1000, spacing, 1)
    # diffusers takes the cumulative product of 1000 betas in float32, ours in float64: 2.5e-6 apart
    assert torch.allclose(SCHEDULE.sigmas[t].float(), scheduler.sigmas[:-1], rtol=1e-5)


def test_karras_sigmas_match_diffusers_euler():
    scheduler = diffusers.EulerDiscreteScheduler(**SD, use_karras_sigmas=True)
    scheduler.set_timesteps(15)
    ours = karras_sigmas(15, SCHEDULE.sigma_min, SCHEDULE.sigma_max)
    # diffusers raises to the power rho = 7 in float32, which multiplies its rounding by 7
    assert torch.allclose(ours, scheduler.sigmas.float(), rtol=3e-5)
