"""The generative family on world images: each model learns in a few steps, samples are images in range,
mode coverage is counted as the 2-D lab counts it, and the comparison prints its table and figure."""

import numpy as np
import pytest
import torch

from pixeldrift.diffusion.losses import denoising_loss, lognormal_sigma_sampler, logit_normal_flow_sigma_sampler
from pixeldrift.diffusion.parameterization import EDMDenoiser, FlowDenoiser
from pixeldrift.evaluate.scene_kind import SceneReading
from pixeldrift.toy.family import discriminator_loss
from pixeldrift.toy.family_world import (WorldFamilyConfig, WorldImages, WorldModes, draw_samples, figure_rows,
                                         format_table, from_uint8, image_unet, run_world_family, to_uint8,
                                         train_image_denoiser, train_method, world_modes)

TINY = WorldFamilyConfig(width=8, latent=8, batch_size=8, seed=0)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def _batch(n=8, seed=5):
    return WorldImages(32, seed=1).sample(n, torch.Generator().manual_seed(seed))


def test_world_images_are_fresh_renders_in_range_and_survive_the_round_trip():
    generator = torch.Generator().manual_seed(0)
    images = WorldImages(32)
    a, b = images.sample(4, generator), images.sample(4, generator)
    assert a.shape == (4, 3, 32, 32) and a.min() >= -1 and a.max() <= 1 and not torch.equal(a, b)
    assert np.array_equal(to_uint8(from_uint8(to_uint8(a))), to_uint8(a))


@pytest.mark.parametrize("method", ["gan", "vae"])
def test_gan_and_vae_learn_in_a_few_steps_and_sample_images_in_range(method):
    x = _batch()
    before, after = (train_method(method, TINY, WorldImages(32), steps) for steps in (1, 40))
    generator = torch.Generator().manual_seed(3)
    if method == "vae":
        losses = [model.negative_elbo(x, torch.Generator().manual_seed(3)).item() for model in (before, after)]
    else:  # the discriminator learns to tell renders from the generator's samples
        losses = [discriminator_loss(model, x.clone(), model.sample(8, generator), 0.0).item()
                  for model in (before, after)]
    assert losses[1] < losses[0], losses
    samples = draw_samples(method, after, 5, 1, seed=0, size=32)
    assert samples.shape == (5, 3, 32, 32) and samples.min() >= -1 and samples.max() <= 1
    assert torch.equal(samples, draw_samples(method, after, 5, 1, seed=0, size=32))


@pytest.mark.parametrize("method", ["diffusion", "flow"])
def test_diffusion_and_flow_learn_in_a_few_steps_and_sample_images_in_range(method):
    x = _batch(4)
    if method == "diffusion":
        make, draw_sigma = (lambda: EDMDenoiser(image_unet("tiny"), sigma_data=0.5)), lognormal_sigma_sampler()
    else:
        make, draw_sigma = (lambda: FlowDenoiser(image_unet("tiny"))), logit_normal_flow_sigma_sampler()
    sigma = draw_sigma(4, torch.Generator().manual_seed(1))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    losses = []
    for steps in (1, 25):
        torch.manual_seed(0)
        model = train_image_denoiser(WorldImages(32), make(), draw_sigma, steps, batch_size=4, ema=0.0)
        with torch.no_grad():
            losses.append(denoising_loss(model, x, sigma, noise).mean().item())
    assert losses[1] < 0.8 * losses[0], losses
    samples = draw_samples(method, model, 3, 2, seed=0, size=32)
    assert samples.shape == (3, 3, 32, 32) and samples.min() >= -1 and samples.max() <= 1


def _reading(mode):
    if mode is None:
        return SceneReading(None, reason="none")
    if mode.startswith("objects: "):
        return SceneReading("objects", ("objects",), objects=(tuple(mode[9:].split(" ")),))
    return SceneReading(mode, (mode,))


def test_mode_coverage_on_a_hand_made_sample_set():
    modes = WorldModes({"clock": 0.2, "quantity": 0.2, "text": 0.2, "objects: red star": 0.3,
                        "objects: blue circle": 0.098, "objects: pink cross": 0.002}, accepted=1.0)
    assert modes.modes == ["clock", "objects: blue circle", "objects: red star", "quantity", "text"]  # 0.2% is none
    # 20 samples: 8 clocks, 2 red stars (10% >= a quarter of 30%), no blue circle, 1 quantity (5% >= 5%),
    # no text, 1 pink cross (not a mode), 8 that read as nothing
    samples = ([_reading("clock")] * 8 + [_reading("objects: red star")] * 2 + [_reading("quantity")]
               + [_reading("objects: pink cross")] + [_reading(None)] * 8)
    assert modes.coverage(samples) == pytest.approx(3 / 5)
    # kinds: clock, quantity and objects (15% of samples against 40% of the data) reached; text not
    assert modes.coverage(samples, kinds_only=True) == pytest.approx(3 / 4)
    assert modes.coverage([_reading("objects: red star")]) == pytest.approx(1 / 5)
    assert modes.coverage([]) == 0.0
    read = world_modes([_reading("clock"), _reading("clock"), _reading("objects: red star"), _reading(None)])
    assert read.shares == {"clock": 0.5, "objects: red star": 0.25} and read.accepted == 0.75


def test_the_comparison_prints_every_model_and_the_data_and_draws_the_figure(tmp_path):
    from pixeldrift.toy.figures import image_family

    config = WorldFamilyConfig(width=8, latent=8, batch_size=4, train_steps=2, num_samples=16, reference=40,
                               ode_steps=(2, 1), seed=0)
    lines = []
    result = run_world_family(config, log=lines.append)
    names = [(row.name, row.steps) for row in result.rows]
    assert names == [("diffusion (EDM)", 2), ("diffusion (EDM)", 1), ("flow matching", 2), ("flow matching", 1),
                     ("GAN", 1), ("VAE", 1), ("(data)", 1)]
    data = result.rows[-1]
    assert data.accepted >= 0.9 and result.modes.accepted >= 0.9 and data.sliced == result.floor
    assert all(row.train_steps == 2 and row.ms_per_image > 0 for row in result.rows[:-1])
    table = format_table(result)
    assert table.count("\n") == 2 + len(result.rows) - 1 and "| (data) |" in table
    assert lines[0].startswith("world at 32 px")
    path = image_family(figure_rows(result), "test", tmp_path / "family.png")
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="unknown method"):
        run_world_family(WorldFamilyConfig(methods=("gan", "dcgan")))
