"""Classifier guidance on an exact Gaussian mixture with its exact (Bayes) classifier.

Class 0 is component 0 of the three-blob mixture, class 1 components 1 and 2. Everything is
closed form: the noisy mixture's density, the classifier p(y | x, sigma) (the summed posterior
responsibilities of the class's components) and the class-conditional denoiser (the mixture
restricted to those components).
"""

import math

import pytest
import torch

from pixeldrift.diffusion.gaussian_mixture import example_mixture
from pixeldrift.sampling.classifier_guidance import ClassifierGuidedDenoiser, classifier_log_likelihood
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import CONSISTENCY_SAMPLERS, SAMPLERS, STOCHASTIC_SAMPLERS
from pixeldrift.sampling.sigma_schedules import karras_sigmas

MIXTURE = example_mixture()
CLASS_OF_COMPONENT = torch.tensor([0, 1, 1])


def component_log_densities(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log (w_k N(x; mu_k, (c_k^2 + sigma^2) I)), (N, K)."""
    var = MIXTURE.stds**2 + torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) ** 2  # (N, K)
    squared = (x[:, None, :] - MIXTURE.means).pow(2).sum(-1)  # (N, K)
    return MIXTURE.weights.log() - 0.5 * MIXTURE.dim * (2 * math.pi * var).log() - squared / (2 * var)


def bayes_classifier(x: torch.Tensor, sigma: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits log p(y, x) per class: a softmax over them is the exact p(y | x, sigma)."""
    joint = component_log_densities(x, sigma)
    logits = torch.stack([joint[:, CLASS_OF_COMPONENT == y].logsumexp(1) for y in (0, 1)], dim=1)
    return {"blob": logits}


def log_weights_of(y: int, n: int) -> torch.Tensor:
    """The conditional mixture's component weights (N, K): the class's components only."""
    inside = CLASS_OF_COMPONENT == y
    return torch.where(inside, MIXTURE.weights.log(), torch.tensor(-torch.inf, dtype=torch.float64)).expand(n, -1)


def denoiser(x, sigma, log_weights=None):
    return MIXTURE.denoise(x, sigma, log_weights)


def guided(y: int, n: int, scale: float) -> ClassifierGuidedDenoiser:
    labels = {"blob": torch.full((n,), y)}
    return ClassifierGuidedDenoiser(denoiser, classifier_log_likelihood(bayes_classifier, labels), scale)


def points(n=64, spread=2.0, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * spread


@pytest.mark.parametrize("y", [0, 1])
@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0, 20.0])
def test_scale_one_with_the_bayes_classifier_is_the_exact_conditional_denoiser(y, sigma):
    x = points(spread=math.sqrt(1 + sigma**2))
    s = torch.full((len(x),), sigma, dtype=torch.float64)
    conditional = MIXTURE.denoise(x, s, log_weights_of(y, len(x)))
    assert torch.allclose(guided(y, len(x), 1.0)(x, s), conditional, atol=1e-10)
    assert not torch.allclose(MIXTURE.denoise(x, s), conditional, atol=1e-3)  # the guidance did something


@pytest.mark.parametrize("scale", [0.0, 0.5, 3.0, 10.0])
def test_scale_s_is_the_score_of_p_x_times_p_y_given_x_to_the_power_s(scale):
    """(D_s - x) / sigma^2 = grad log [p(x) p(y | x)^s], the gradient taken by central differences
    of the closed-form densities (not by the autograd path the wrapper uses)."""
    sigma, h = 0.7, 1e-5
    x = points(16)
    s = torch.full((len(x),), sigma, dtype=torch.float64)

    def log_tilted(z):
        joint = component_log_densities(z, s)
        log_p = joint.logsumexp(1)
        return log_p + scale * (joint[:, CLASS_OF_COMPONENT == 0].logsumexp(1) - log_p)

    numeric = torch.stack([(log_tilted(x + h * e) - log_tilted(x - h * e)) / (2 * h)
                           for e in torch.eye(2, dtype=torch.float64)], dim=1)
    score = (guided(0, len(x), scale)(x, s) - x) / sigma**2
    assert torch.allclose(score, numeric, atol=1e-6)


@pytest.mark.parametrize("scale", [0.5, 1.0, 4.0])
def test_with_exact_models_classifier_guidance_is_classifier_free_guidance(scale):
    """sigma^2 grad log p(y | x) = E[x0 | x, y] - E[x0 | x], so both guidances agree at every scale."""
    x, n = points(), 64
    s = torch.full((n,), 1.3, dtype=torch.float64)
    cfg = CFGDenoiser(denoiser, scale)(x, s, {"log_weights": log_weights_of(1, n)},
                                       {"log_weights": MIXTURE.weights.log().expand(n, -1)})
    assert torch.allclose(guided(1, n, scale)(x, s), cfg, atol=1e-10)


@pytest.mark.parametrize("name", sorted(set(SAMPLERS) - CONSISTENCY_SAMPLERS))
def test_every_sampler_draws_the_class_under_guidance_and_is_unchanged_at_scale_zero(name):
    n, sigma_max = 1500, 40.0
    x = torch.randn(n, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * math.sqrt(sigma_max**2 + 1)
    steps = 150 if name in STOCHASTIC_SAMPLERS else 20
    sigmas = karras_sigmas(steps, 0.005, sigma_max).double()
    run = lambda d: SAMPLERS[name](d, x, sigmas, generator=torch.Generator().manual_seed(2))  # noqa: E731
    assert torch.equal(run(guided(0, n, 0.0)), run(MIXTURE.denoiser()))
    samples = run(guided(0, n, 1.0))
    # the conditional distribution is component 0 alone: N(mu_0, 0.5^2 I)
    assert torch.allclose(samples.mean(0), MIXTURE.means[0], atol=0.06), name
    assert torch.allclose(samples.std(0), MIXTURE.stds[0].expand(2), atol=0.08), name
    # a larger scale sharpens the classifier: samples leave the region the other class shares
    sharp = run(guided(0, n, 8.0))
    assert sharp.std(0).max() < samples.std(0).max()
    assert (sharp - MIXTURE.means[1:].mean(0)).norm(dim=1).mean() > (samples - MIXTURE.means[1:].mean(0)).norm(dim=1).mean()


def test_guidance_stops_above_sigma_max():
    x, n = points(), 64
    d = ClassifierGuidedDenoiser(denoiser, classifier_log_likelihood(bayes_classifier, {"blob": torch.zeros(n, dtype=torch.long)}),
                                 2.0, sigma_max=1.0)
    high, low = torch.full((n,), 3.0, dtype=torch.float64), torch.full((n,), 0.5, dtype=torch.float64)
    assert torch.equal(d(x, high), MIXTURE.denoise(x, high))
    assert not torch.allclose(d(x, low), MIXTURE.denoise(x, low))


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=-1.0), "classifier scale must be from 0 to 1000, got -1.0"),
    (dict(scale=1e4), "classifier scale must be from 0 to 1000"),
    (dict(scale=float("nan")), "classifier scale must be from 0 to 1000, got nan"),
    (dict(scale=1.0, sigma_max=0.0), "sigma_max must be > 0 or None, got 0.0"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClassifierGuidedDenoiser(denoiser, lambda x, s: x.sum(1), **kwargs)


def test_no_labels_and_unknown_heads_are_refused():
    with pytest.raises(ValueError, match="needs at least one label"):
        classifier_log_likelihood(bayes_classifier, {})
    wrong = classifier_log_likelihood(bayes_classifier, {"colour": torch.zeros(4, dtype=torch.long)})
    with pytest.raises(ValueError, match="no head colour; it has blob"):
        wrong(points(4), torch.ones(4, dtype=torch.float64))
