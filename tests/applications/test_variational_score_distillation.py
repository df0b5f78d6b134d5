"""Variational score distillation on exact Gaussian denoisers (the gradient in closed form; particles that keep the
target's spread where SDS collapses them to its mode) and its LoRA particle model on a tiny model (it starts as the
pretrained conditional denoiser, it learns fixed particles, it leaves the model untouched)."""

import importlib.util
from pathlib import Path

import pytest
import torch

from pixeldrift.applications.score_distillation import DistillationSettings, sds_gradient, sigma_for_step
from pixeldrift.applications.variational_score_distillation import (ParticleDenoiser, VariationalScore, VSDSettings,
                                                                    distil_variational, vsd_gradient)
from pixeldrift.diffusion.gaussian_mixture import GaussianMixture
from pixeldrift.sampling.guidance import CFGDenoiser

MEAN, STD = torch.tensor([[1.5, -0.5]], dtype=torch.float64), 0.3
BENCH = Path(__file__).resolve().parents[2] / "bench" / "score_distillation.py"


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def gaussian(mean, std) -> GaussianMixture:
    """N(mean, std^2 I) as a one-component mixture, whose denoiser is exact."""
    return GaussianMixture(torch.as_tensor(mean, dtype=torch.float64).reshape(1, -1),
                           torch.tensor([float(std)], dtype=torch.float64), torch.ones(1, dtype=torch.float64))


def test_the_vsd_gradient_is_the_difference_of_the_two_denoisers_and_vanishes_where_particles_match_the_model():
    """With D_phi and D_pretrained both exact Gaussian denoisers (linear in x_t) the gradient averaged over eps and
    -eps is D_q(x0) - D_p(x0) in closed form; with q = p it is zero for every eps, while SDS's is not."""
    target, x0 = gaussian(MEAN, STD), torch.tensor([[0.0, 1.0], [3.0, 2.0]], dtype=torch.float64)
    mean_q, std_q = torch.tensor([[0.5, 0.5]], dtype=torch.float64), 0.1
    particles = gaussian(mean_q, std_q)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for s in (0.1, 1.0, 10.0):
        sigma = torch.full((2,), s, dtype=torch.float64)
        both = [vsd_gradient(target.denoiser(), particles.denoiser(), x0, sigma, e) for e in (eps, -eps)]
        shrink_q, shrink_p = std_q**2 / (std_q**2 + s**2), STD**2 / (STD**2 + s**2)
        expected = (mean_q + shrink_q * (x0 - mean_q)) - (MEAN + shrink_p * (x0 - MEAN))
        assert torch.allclose((both[0] + both[1]) / 2, expected, atol=1e-12)
        same = vsd_gradient(target.denoiser(), target.denoiser(), x0, sigma, eps)
        assert float(same.abs().max()) == 0.0
        assert float(sds_gradient(target.denoiser(), x0, sigma, eps).abs().max()) > 0.05


def optimise_particles(target, x, variational: bool, steps=1500, lr=0.02) -> torch.Tensor:
    """Particles (N, 2) moved by SDS, or by VSD whose particle model is the exact denoiser of the Gaussian fitted to
    the particles at every step (the LoRA model's job done in closed form)."""
    generator = torch.Generator().manual_seed(0)
    for i in range(steps):
        sigma = sigma_for_step(i, steps, x.shape[0], "random", (0.05, 3.0), generator).double()
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        if variational:
            fitted = gaussian(x.mean(0), x.var(0).mean().sqrt())
            x = x - lr * vsd_gradient(target.denoiser(), fitted.denoiser(), x, sigma, noise)
        else:
            x = x - lr * sds_gradient(target.denoiser(), x, sigma, noise)
    return x


def test_vsd_particles_take_on_the_target_distribution_where_sds_collapses_them_to_its_mode():
    """Wang et al. 2023, eq. 7: VSD minimises the KL between the particles' distribution and the model's, so 400
    particles started in a tight clump spread to N(mu, c^2) (mean and spread within 10%); SDS puts them all at mu."""
    target = gaussian(MEAN, STD)
    start = torch.tensor([[-1.0, 1.0]], dtype=torch.float64) + 0.05 * torch.randn(
        400, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    vsd = optimise_particles(target, start, variational=True)
    assert float((vsd.mean(0) - MEAN[0]).norm()) < 0.05
    assert abs(float(vsd.std(0).mean()) - STD) < 0.1 * STD, vsd.std(0)
    sds = optimise_particles(target, start, variational=False)
    assert float((sds.mean(0) - MEAN[0]).norm()) < 0.05 and float(sds.std(0).max()) < 0.02


def tiny(random_model_dir):
    from pixeldrift.pipeline import load_model
    return load_model(random_model_dir)


def test_the_particle_model_starts_as_the_pretrained_conditional_denoiser(random_model_dir):
    """LoRA's up matrices start at zero, so D_phi = D_cond and the first VSD gradient is SDS's at guidance w less
    SDS's at guidance 1: D_cond - D_guided = (1 - w)(D_cond - D_uncond), the guidance's push alone. One LoRA step
    changes it."""
    model, w = tiny(random_model_dir), 5.0
    score = VariationalScore(model, DistillationSettings(guidance=w))
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, *model.latent_shape(32, 32), generator=generator)
    sigma, noise = torch.tensor([0.5, 3.0]), torch.randn(x0.shape, generator=generator)
    with torch.no_grad():
        cond, uncond = model.encode_prompts(["a red circle", "a blue square"], ["", ""])
    first = score.gradient(x0, sigma, noise, cond, uncond)
    both = {"cond": cond, "uncond": uncond}
    sds_w = sds_gradient(CFGDenoiser(model.denoiser, w), x0, sigma, noise, both)
    sds_1 = sds_gradient(CFGDenoiser(model.denoiser, 1.0), x0, sigma, noise, both)
    assert torch.allclose(first, sds_w - sds_1, atol=1e-5)
    with torch.no_grad():
        x = x0 + sigma[:, None, None, None] * noise
        d_cond, d_uncond = model.denoiser(x, sigma, **cond), model.denoiser(x, sigma, **uncond)
    assert torch.allclose(first, (1 - w) * (d_cond - d_uncond), atol=1e-5)
    assert float(first.abs().max()) > 1e-3
    score.learn(x0, cond)
    assert not torch.allclose(score.gradient(x0, sigma, noise, cond, uncond), first, atol=1e-5)


def test_the_particle_models_denoising_loss_falls_on_fixed_particles_and_the_model_stays(random_model_dir):
    """Eq. 8 on four fixed particles, scored at fixed noise: the LoRA model's loss falls (by 19% in 80 steps of the
    tiny random model, whose attention alone barely moves its output: its convolutions are adapted too)."""
    model = tiny(random_model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    particles = ParticleDenoiser(model.denoiser, VSDSettings(learning_rate=2e-2, convolutions=True))
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, *model.latent_shape(32, 32), generator=generator)
    with torch.no_grad():
        cond, _ = model.encode_prompts(["a red circle"] * 4, [""] * 4)
    sigma, noise = torch.tensor([0.2, 0.7, 2.0, 6.0]), torch.randn(x0.shape, generator=generator)
    with torch.no_grad():
        start = float(particles.loss(x0, sigma, noise, cond).mean())
    for _ in range(80):
        particles.learn(x0, cond)
    with torch.no_grad():
        end = float(particles.loss(x0, sigma, noise, cond).mean())
    assert end < 0.85 * start, (start, end)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("picture", ["latent", "blobs"])
def test_vsd_runs_on_a_tiny_model_and_leaves_the_model_untouched(random_model_dir, picture):
    model = tiny(random_model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    settings = DistillationSettings(picture=picture, iterations=3, schedule="annealed", blobs=2)
    pixels = distil_variational(model, ["a red circle", "a red circle", "a blue square"], settings,
                                VSDSettings(rank=2, alpha=2.0))
    assert pixels.shape == (3, 3, 32, 32) and bool(torch.isfinite(pixels).all())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in model.parameters())


def test_bad_vsd_settings_are_refused_by_name():
    for settings, message in ((VSDSettings(rank=0), "LoRA rank must be an integer"),
                              (VSDSettings(alpha=-1.0), "LoRA alpha must be a positive number"),
                              (VSDSettings(learning_rate=0.0), "LoRA learning rate must be a number"),
                              (VSDSettings(learning_rate=float("nan")), "LoRA learning rate must be a number"),
                              (VSDSettings(steps=0), "LoRA steps must be an integer from 1 to 100")):
        with pytest.raises(ValueError, match=message):
            settings.check()
    with pytest.raises(ValueError, match="LoRA rank"):
        distil_variational(None, ["a red circle"], DistillationSettings(), VSDSettings(rank=0))
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        distil_variational(None, ["a red circle"], DistillationSettings(schedule="cosine"))


def test_the_bench_reads_a_method_before_the_old_run_syntax():
    spec = importlib.util.spec_from_file_location("bench_score_distillation", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    method, settings = bench.parse_run("latent:random:100:0.7", 50, 3)
    assert method == "sds" and (settings.guidance, settings.guidance_rescale, settings.seed) == (100.0, 0.7, 3)
    method, settings = bench.parse_run("vsd:blobs:annealed:7.5", 50, 0)
    assert method == "vsd" and (settings.picture, settings.schedule, settings.guidance) == ("blobs", "annealed", 7.5)
    assert bench.run_name("vsd:latent:random:7.5") == "VSD latent:random:7.5"
    assert bench.run_name("latent:random:7.5") == "SDS latent:random:7.5"
    for text, message in (("dsd:latent:random:7.5", "a run is .*, got 'dsd:latent"), ("vsd:latent:random", "a run is"),
                          ("vsd:mesh:random:7.5", "PICTURE one of latent, blobs"), ("latent:cosine:7.5", "schedule")):
        with pytest.raises(ValueError, match=message):
            bench.parse_run(text, 50, 0)
