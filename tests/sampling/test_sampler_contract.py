"""What every sampler promises: determinism per seed, the callback, clear errors on bad input."""

import pytest
import torch

from pixeldrift.diffusion.gaussian_mixture import example_mixture
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import SAMPLERS, STOCHASTIC_SAMPLERS, NonFiniteOutput, get_sampler
from pixeldrift.sampling.sigma_schedules import karras_sigmas, make_sigmas

MIXTURE = example_mixture(torch.float32)
SIGMAS = karras_sigmas(8, 0.01, 10.0)


def start(seed=0):
    return torch.randn(32, 2, generator=torch.Generator().manual_seed(seed)) * 10


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_same_result_and_other_seed_differs_for_stochastic(name):
    run = lambda seed: SAMPLERS[name](MIXTURE.denoiser(), start(), SIGMAS,
                                      generator=torch.Generator().manual_seed(seed))
    assert torch.equal(run(1), run(1))
    assert torch.equal(run(1), run(2)) == (name not in STOCHASTIC_SAMPLERS)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_callback_sees_every_step_in_order(name):
    seen = []
    SAMPLERS[name](MIXTURE.denoiser(), start(), SIGMAS, callback=lambda i, x, d: seen.append((i, x.shape, d.shape)),
                   generator=torch.Generator().manual_seed(0))
    assert [i for i, _, _ in seen] == list(range(len(SIGMAS) - 1))
    assert all(xs == ds == (32, 2) for _, xs, ds in seen)


def test_nan_from_the_model_is_an_error_naming_the_call():
    calls = []

    def broken(x, sigma):
        calls.append(1)
        return x * float("nan") if len(calls) == 3 else MIXTURE.denoise(x, sigma)

    with pytest.raises(NonFiniteOutput, match="NaN or inf at call 3 of 8"):
        SAMPLERS["euler"](broken, start(), SIGMAS)


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"denoiser returned shape \(32, 3\) for input \(32, 2\)"):
        SAMPLERS["heun"](lambda x, s: torch.zeros(32, 3), start(), SIGMAS)


@pytest.mark.parametrize("bad,message", [
    (torch.tensor([1.0]), "at least 2 values"),
    (torch.tensor([1.0, 2.0, 0.0]), "strictly decreasing"),
    (torch.tensor([1.0, float("nan"), 0.0]), "finite"),
    (torch.tensor([1.0, 0.0, 0.0]), "positive"),
])
def test_bad_sigmas_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        SAMPLERS["dpmpp_2m"](MIXTURE.denoiser(), start(), bad)


def test_unknown_names_and_step_counts_list_what_is_accepted():
    with pytest.raises(ValueError, match="unknown sampler 'eulr'; accepted: euler, euler_ancestral"):
        get_sampler("eulr")
    with pytest.raises(ValueError, match="unknown sigma schedule 'karas'; accepted: karras"):
        make_sigmas("karas", 10, 0.1, 10.0)
    for steps in (0, -3, 10_000, 2.5):
        with pytest.raises(ValueError, match="steps must be an integer from 1 to 1000"):
            make_sigmas("karras", steps, 0.1, 10.0)
    with pytest.raises(ValueError, match="needs a model with discrete training timesteps"):
        make_sigmas("trailing", 10, 0.1, 10.0)


def test_every_schedule_ends_at_zero_and_decreases():
    from pixeldrift.diffusion.schedules import DiscreteSchedule
    schedule = DiscreteSchedule.named("scaled_linear")
    for name in ("karras", "exponential", "leading", "linspace", "trailing", "flow"):
        sigmas = make_sigmas(name, 12, schedule=schedule)
        assert sigmas.shape == (13,) and sigmas[-1] == 0 and (sigmas[1:] < sigmas[:-1]).all(), name


# ----- classifier-free guidance ----------------------------------------------------------

class CountingLinear:
    """D(x | c) = x * 0 + c: guidance must combine the two outputs linearly, in one call."""

    def __init__(self):
        self.batches = []

    def __call__(self, x, sigma, context):
        self.batches.append(x.shape[0])
        return context.expand_as(x)


def test_cfg_is_one_batched_call_and_extrapolates():
    model = CountingLinear()
    guided = CFGDenoiser(model, scale=3.0)
    x = torch.zeros(4, 2)
    out = guided(x, torch.ones(4), cond={"context": torch.full((4, 2), 1.0)}, uncond={"context": torch.zeros(4, 2)})
    assert model.batches == [8]
    assert torch.allclose(out, torch.full((4, 2), 3.0))  # 0 + 3 * (1 - 0)


def test_cfg_scale_one_skips_the_uncond_pass():
    model = CountingLinear()
    CFGDenoiser(model, 1.0)(torch.zeros(2, 2), torch.ones(2), cond={"context": torch.ones(2, 2)},
                             uncond={"context": torch.zeros(2, 2)})
    assert model.batches == [2]


def test_guidance_rescale_matches_the_conditional_noise_std():
    torch.manual_seed(0)
    x, sigma = torch.randn(3, 64), torch.full((3,), 2.0)
    cond = {"context": torch.randn(3, 64)}
    uncond = {"context": torch.randn(3, 64)}
    full = CFGDenoiser(CountingLinear(), 7.0, rescale=1.0)(x, sigma, cond, uncond)
    eps_full, eps_cond = (x - full) / 2.0, (x - cond["context"]) / 2.0
    assert torch.allclose(eps_full.std(1), eps_cond.std(1), rtol=1e-5)
    with pytest.raises(ValueError, match="rescale must be in"):
        CFGDenoiser(CountingLinear(), 7.0, rescale=1.5)


def test_cfg_mismatched_conditions_are_named():
    with pytest.raises(ValueError, match="cond and uncond must have the same keys"):
        CFGDenoiser(CountingLinear(), 2.0)(torch.zeros(1, 2), torch.ones(1), {"context": torch.ones(1, 2)}, {})
    with pytest.raises(ValueError, match=r"cond\['context'\] has shape"):
        CFGDenoiser(CountingLinear(), 2.0)(torch.zeros(1, 2), torch.ones(1), {"context": torch.ones(1, 2)},
                                           {"context": torch.ones(1, 3)})


def test_cfg_drives_a_sampler_through_extra_args():
    model = CountingLinear()
    out = SAMPLERS["dpmpp_2m"](CFGDenoiser(model, 2.0), torch.randn(4, 2) * 10, SIGMAS,
                               extra_args={"cond": {"context": torch.ones(4, 2)},
                                           "uncond": {"context": torch.zeros(4, 2)}})
    assert torch.allclose(out, torch.full((4, 2), 2.0))
    assert model.batches == [8] * 8
