"""Score distillation on exact Gaussian denoisers: the gradient in closed form, convergence to the mode, the guided
fixed point that overshoots (over-saturation in one line), and the pictures' plumbing on a tiny model."""

import pytest
import torch

from pixeldrift.applications.score_distillation import (BlobPicture, DistillationSettings, LatentPicture, distil,
                                                        sds_gradient, sigma_for_step)
from pixeldrift.diffusion.gaussian_mixture import GaussianMixture
from pixeldrift.sampling.guidance import CFGDenoiser

MEAN, STD = torch.tensor([[1.5, -0.5]], dtype=torch.float64), 0.3


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def gaussian(mean=MEAN, std=STD) -> GaussianMixture:
    return GaussianMixture(mean, torch.tensor([std], dtype=torch.float64), torch.ones(1, dtype=torch.float64))


def optimise_point(denoiser, start, steps=1500, lr=0.02, extra_args=None, seed=0, sigmas=(0.05, 3.0)) -> torch.Tensor:
    """A 2-D point optimised by SDS (plain gradient descent, sigma log-uniform in `sigmas`)."""
    generator, x = torch.Generator().manual_seed(seed), start.clone()
    for i in range(steps):
        sigma = sigma_for_step(i, steps, x.shape[0], "random", sigmas, generator).double()
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x - lr * sds_gradient(denoiser, x, sigma, noise, extra_args)
    return x


def test_the_expected_sds_gradient_on_gaussian_data_points_to_the_mean_in_closed_form():
    """For N(mu, c^2 I), D(x, s) = mu + c^2/(c^2+s^2)(x - mu) is linear, so the gradient averaged over eps and -eps is
    exactly E[x0 - D(x0 + s eps)] = s^2/(c^2+s^2) (x0 - mu): towards the mean, faster at higher noise."""
    data, x0 = gaussian(), torch.tensor([[0.0, 1.0], [3.0, 2.0]], dtype=torch.float64)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for s in (0.1, 1.0, 10.0):
        sigma = torch.full((2,), s, dtype=torch.float64)
        both = [sds_gradient(data.denoiser(), x0, sigma, e) for e in (eps, -eps)]
        mean_gradient = (both[0] + both[1]) / 2
        assert torch.allclose(mean_gradient, s**2 / (STD**2 + s**2) * (x0 - MEAN), atol=1e-12)


def test_optimising_a_point_by_sds_on_one_gaussian_converges_to_its_mode():
    start = torch.tensor([[-2.0, 2.0], [4.0, 3.0], [0.0, 0.0]], dtype=torch.float64)
    end = optimise_point(gaussian().denoiser(), start)
    assert float((end - MEAN).norm(dim=1).max()) < 0.05


def test_sds_seeks_the_nearest_mode_of_a_mixture_not_its_mean():
    """With noise levels below the modes' distance each point climbs its own mode; at high noise the smoothed
    mixture is one bump, which is why SDS starts a layout at high noise and refines it at low."""
    means = torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    mixture = GaussianMixture(means, torch.full((2,), 0.2, dtype=torch.float64),
                              torch.full((2,), 0.5, dtype=torch.float64))
    start = torch.tensor([[-0.6, 1.0], [0.7, -1.0]], dtype=torch.float64)
    end = optimise_point(mixture.denoiser(), start, sigmas=(0.05, 0.5))
    assert float((end - means).norm(dim=1).max()) < 0.1  # point 0 went left, point 1 right; the mean (0, 0) is empty


def test_guided_sds_overshoots_the_conditional_mode_linearly_in_the_guidance_scale():
    """Cond N(mu_c, c^2) and uncond N(mu_u, c^2): the guided denoiser is that of N(mu_u + w (mu_c - mu_u), c^2), so
    SDS settles at mu_u + w (mu_c - mu_u): past the prompt's mode, further at every w (colours past saturation)."""
    mu_u, mu_c = torch.tensor([[0.0, 0.0]], dtype=torch.float64), MEAN
    uncond, cond = gaussian(mu_u), gaussian(mu_c)

    def denoiser(x, sigma, is_cond):  # (N, 1): 1 for the prompt's rows of guidance's batch, 0 for the uncond's
        return torch.where(is_cond > 0, cond.denoise(x, sigma), uncond.denoise(x, sigma))

    for w in (1.0, 3.0, 10.0):
        guided = CFGDenoiser(denoiser, w)
        end = optimise_point(guided, torch.zeros(1, 2, dtype=torch.float64), steps=2500,
                             extra_args={"cond": {"is_cond": torch.ones(1, 1)},
                                         "uncond": {"is_cond": torch.zeros(1, 1)}},
                             lr=0.05)
        assert torch.allclose(end, mu_u + w * (mu_c - mu_u), atol=0.05 * w), (w, end)


def test_the_annealed_schedule_falls_from_high_to_low_noise_and_random_stays_in_range():
    generator = torch.Generator().manual_seed(0)
    annealed = torch.stack([sigma_for_step(i, 50, 4, "annealed", (0.1, 10.0), generator) for i in range(50)])
    assert float(annealed[0].min()) > 8.0 and float(annealed[-1].max()) < 0.12
    assert bool((annealed[10:].mean(1) < annealed[:-10].mean(1)).all())
    drawn = torch.stack([sigma_for_step(i, 50, 4, "random", (0.1, 10.0), generator) for i in range(50)])
    assert 0.1 <= float(drawn.min()) and float(drawn.max()) <= 10.0
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        sigma_for_step(0, 5, 1, "cosine", (0.1, 10.0), generator)


def test_a_blob_picture_is_differentiable_in_every_parameter_and_stays_in_range():
    picture = BlobPicture(2, blobs=3, size=16, generator=torch.Generator().manual_seed(0))
    pixels = picture.pixels()
    assert pixels.shape == (2, 3, 16, 16) and -1 <= float(pixels.detach().min()) <= float(pixels.detach().max()) <= 1
    grads = torch.autograd.grad(pixels.pow(2).sum(), list(picture.parameters()))
    assert all(float(g.abs().max()) > 0 for g in grads)


@pytest.mark.parametrize("picture", ["latent", "blobs"])
def test_distillation_runs_on_a_tiny_model_and_leaves_the_model_untouched(random_model_dir, picture):
    from pixeldrift.pipeline import load_model
    model = load_model(random_model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    settings = DistillationSettings(picture=picture, iterations=3, guidance=5.0, schedule="annealed", blobs=2)
    pixels = distil(model, ["a red circle", "a blue square"], settings)
    assert pixels.shape == (2, 3, 32, 32) and bool(torch.isfinite(pixels).all())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in model.parameters())


def test_bad_settings_are_refused_by_name():
    for settings, message in ((DistillationSettings(picture="mesh"), "unknown picture 'mesh'"),
                              (DistillationSettings(schedule="cosine"), "unknown schedule 'cosine'"),
                              (DistillationSettings(iterations=0), "iterations must be an integer"),
                              (DistillationSettings(sigma_range=(1.0, 0.5)), "sigma range"),
                              (DistillationSettings(guidance=-1.0), "guidance must be a number from 0"),
                              (DistillationSettings(blobs=0), "blobs must be an integer from 1 to 64")):
        with pytest.raises(ValueError, match=message):
            settings.check()


def test_a_latent_picture_decodes_through_the_model():
    class Model:
        latents_to_pixels = staticmethod(lambda z: 3 * z[:, :3])
    picture = LatentPicture((1, 4, 2, 2), torch.Generator().manual_seed(0))
    pixels = picture.pixels(Model()).detach()
    assert pixels.shape == (1, 3, 2, 2) and float(pixels.abs().max()) <= 1
