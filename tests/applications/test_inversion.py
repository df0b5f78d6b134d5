"""DDIM inversion on the exact Gaussian-mixture denoiser: reconstruction, convergence, guidance's failure and fixes."""

import pytest
import torch

from pixeldrift.applications.inversion import (InversionSettings, StepwiseUncond, invert, null_text_optimisation,
                                               psnr)
from pixeldrift.diffusion.gaussian_mixture import GaussianMixture, example_mixture
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import sample_euler
from pixeldrift.sampling.sigma_schedules import karras_sigmas

MIXTURE = example_mixture()
COND_LOGITS = torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64)  # the condition: mostly component 0


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def denoiser(x, sigma, context=None):
    """The exact denoiser; `context` (N, K) reweights the components (a class condition)."""
    return MIXTURE.denoise(x, sigma, context)


def sigmas(n: int) -> torch.Tensor:
    return karras_sigmas(n, 0.002, 80.0).double()


def round_trip_error(n: int, refine: int = 0, points: int = 32) -> float:
    x0 = MIXTURE.sample(points, torch.Generator().manual_seed(0))
    path = invert(denoiser, x0, sigmas(n), refine=refine)
    assert len(path) == n + 1 and path[-1] is x0
    return float((sample_euler(denoiser, path[0], sigmas(n)) - x0).abs().max())


def test_inversion_then_regeneration_recovers_the_input_and_the_error_falls_with_steps():
    errors = [round_trip_error(n) for n in (10, 50, 250, 1000)]
    assert all(later < earlier / 3 for earlier, later in zip(errors, errors[1:])), errors  # first order: ~1/n
    assert errors[-1] < 0.02, errors


def test_fixed_point_refinement_makes_each_step_the_samplers_exact_inverse():
    assert round_trip_error(50, refine=3) < 1e-3 < round_trip_error(50) / 100


def test_inversion_reaches_the_noise_the_exact_ode_would():
    """Inverting with many steps lands near the exact probability-flow solution from the data point to sigma_max."""
    from pixeldrift.diffusion.gaussian_mixture import solve_probability_flow
    x0 = MIXTURE.sample(8, torch.Generator().manual_seed(1))
    s = sigmas(400)
    exact = solve_probability_flow(MIXTURE, x0 + 0.0, 1e-4, float(s[0]), steps=400)
    assert torch.allclose(invert(denoiser, x0, s)[0], exact, rtol=0.02, atol=0.05)


def conditional_case(scale: float, n: int = 20, points: int = 16):
    """Points of the conditional distribution, cond/uncond dicts, and the schedule."""
    conditional = GaussianMixture(MIXTURE.means, MIXTURE.stds, COND_LOGITS.softmax(0))
    x0 = conditional.sample(points, torch.Generator().manual_seed(2))
    cond = {"context": COND_LOGITS.expand(points, -1)}
    uncond = {"context": MIXTURE.weights.log().expand(points, -1).clone()}
    return x0, {"cond": cond, "uncond": uncond}, sigmas(n)


def guided_round_trip(scale: float, invert_scale: float, uncond_for_regeneration=None):
    x0, args, s = conditional_case(scale)
    path = invert(CFGDenoiser(denoiser, invert_scale), x0, s, args)
    regen_args = args if uncond_for_regeneration is None else {**args, "uncond": uncond_for_regeneration(args)}
    return x0, sample_euler(CFGDenoiser(denoiser, scale), path[0], s, regen_args)


def test_guidance_breaks_plain_inversion_and_negative_prompt_inversion_repairs_it():
    x0, at_one = guided_round_trip(1.0, 1.0)
    _, plain = guided_round_trip(4.0, 4.0)
    # Miyake et al.: invert at w = 1, regenerate at w = 4 with the source prompt as the uncond
    _, negative_prompt = guided_round_trip(4.0, 1.0, lambda args: args["cond"])
    error = lambda x: float((x - x0).abs().max())  # noqa: E731
    assert error(plain) > 2 * error(at_one), (error(plain), error(at_one))
    assert torch.allclose(negative_prompt, at_one, atol=1e-12)


def test_null_text_optimisation_repairs_guided_reconstruction():
    x0, args, s = conditional_case(4.0)
    pivot = invert(CFGDenoiser(denoiser, 1.0), x0, s, args)
    unconds = null_text_optimisation(denoiser, pivot, s, args["cond"], args["uncond"], 4.0, iterations=10, lr=0.1)
    assert len(unconds) == len(s) - 1 and not unconds[0]["context"].requires_grad
    fixed = sample_euler(StepwiseUncond(CFGDenoiser(denoiser, 4.0), s, unconds), pivot[0], s, args)
    _, plain = guided_round_trip(4.0, 4.0)
    assert float((fixed - x0).abs().max()) < float((plain - x0).abs().max()) / 5


def test_stepwise_uncond_needs_one_condition_per_step():
    with pytest.raises(ValueError, match="3 uncond conditions for 20 steps"):
        StepwiseUncond(CFGDenoiser(denoiser, 2.0), sigmas(20), [{}] * 3)


@pytest.mark.parametrize("settings, message", [
    (InversionSettings(steps=0), "steps must be an integer from 1 to 1000"),
    (InversionSettings(steps=1001), "steps must be an integer from 1 to 1000"),
    (InversionSettings(method="ddim"), "unknown inversion method 'ddim'; accepted: plain, negative-prompt"),
    (InversionSettings(guidance=51), "guidance must be a number from 0 to 50.0"),
    (InversionSettings(guidance=float("nan")), "guidance must be a number"),
    (InversionSettings(strength=0.01, steps=10), "inverts no step"),
    (InversionSettings(refine=-1), "refine must be an integer from 0 to 20"),
    (InversionSettings(null_text_iterations=51), "null-text iterations must be an integer from 0 to 50"),
    (InversionSettings(schedule="cosine"), "unknown schedule 'cosine'"),
])
def test_bad_settings_are_refused_with_the_reason(settings, message):
    with pytest.raises(ValueError, match=message):
        settings.check()


def test_psnr():
    from PIL import Image
    black, grey = Image.new("RGB", (8, 8)), Image.new("RGB", (8, 8), (255, 255, 255))
    assert psnr(black, black) == 100.0 and psnr(black, grey) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="cannot compare"):
        psnr(black, Image.new("RGB", (4, 4)))
