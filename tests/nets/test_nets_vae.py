"""VAE: shapes and factors, the diagonal Gaussian's sampling and KL, the latent scale."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from pixeldrift.nets import VAE, VAE_PRESETS, DiagonalGaussian, VAEConfig


@pytest.mark.parametrize("preset", VAE_PRESETS)
def test_every_preset_round_trips_shapes(preset):
    cfg = VAE_PRESETS[preset]
    with torch.device("meta"):
        vae = VAE(cfg)
        posterior = vae.encode(torch.randn(2, 3, 64, 64))
        images = vae.decode(posterior.mean)
    side = 64 // cfg.downsample_factor
    assert posterior.mean.shape == posterior.logvar.shape == (2, cfg.latent_channels, side, side)
    assert images.shape == (2, 3, 64, 64)


def test_default_maps_64x64x3_to_16x16x4_and_tiny_is_small():
    assert VAEConfig().downsample_factor == 4
    vae = VAE(VAE_PRESETS["tiny"])
    assert sum(p.numel() for p in vae.parameters()) < 1_000_000
    with torch.no_grad():
        latents = vae.encode_to_latents(torch.rand(3, 3, 64, 64) * 2 - 1, torch.Generator().manual_seed(0))
        images = vae.decode_latents(latents)
    assert latents.shape == (3, 4, 16, 16) and images.shape == (3, 3, 64, 64)


def test_downsampling_factor_follows_the_number_of_levels():
    cfg = VAEConfig(base_channels=8, channel_mults=(1, 2), norm_groups=4, mid_attention=False)
    assert cfg.downsample_factor == 2
    with torch.no_grad():
        assert VAE(cfg).encode(torch.randn(1, 3, 32, 32)).mean.shape == (1, 4, 16, 16)


def test_kl_of_a_standard_normal_is_zero():
    standard = DiagonalGaussian(mean=torch.zeros(2, 4, 8, 8), logvar=torch.zeros(2, 4, 8, 8))
    assert torch.equal(standard.kl(), torch.zeros(2))


def test_kl_agrees_with_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(3, 4, 5, 5, generator=g), torch.randn(3, 4, 5, 5, generator=g)
    reference = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).flatten(1).sum(1)
    torch.testing.assert_close(DiagonalGaussian(mean, logvar).kl(), reference)


def test_samples_have_the_stated_mean_and_std_and_follow_the_generator():
    variance = 0.5
    shape = (1, 4, 64, 64)
    posterior = DiagonalGaussian(mean=torch.full(shape, 2.0), logvar=torch.full(shape, variance).log())
    first = posterior.sample(torch.Generator().manual_seed(7))
    again = posterior.sample(torch.Generator().manual_seed(7))
    assert torch.equal(first, again)
    # 16384 draws: the standard error of the mean is 0.71/128 ~ 0.0055, of the std ~ 0.004
    assert abs(first.mean().item() - 2.0) < 0.02 and abs(first.std().item() - variance**0.5) < 0.02


def test_latent_scale_comes_from_the_config():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(base_channels=8, channel_mults=(1, 2, 2), norm_groups=4, latent_scale=0.25)).eval()
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    g = torch.Generator().manual_seed(1)
    raw = vae.encode(images).sample(torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(vae.encode_to_latents(images, g), raw * 0.25)
        torch.testing.assert_close(vae.decode_latents(raw * 0.25), vae.decode(raw))


def test_bad_sizes_are_named():
    vae = VAE(VAE_PRESETS["tiny"])
    with pytest.raises(ValueError, match="multiples of 4"):
        vae.encode(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r"latents must have shape \(N, 4, H, W\)"):
        vae.decode(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"latent_scale \(> 0\) must be a finite number"):
        VAEConfig(latent_scale=0.0)
