"""Panoramas on exact denoisers: one window is plain sampling, a translation-equivariant denoiser is unchanged by
windowing at every sampler, independent tiles are tiles sampled alone, and SyncDiffusion's gradient aligns windows."""

import pytest
import torch

from pixeldrift.applications.panorama import (SyncDenoiser, WindowedDenoiser, WindowLayout, average_windows,
                                              crop_windows, panorama_denoiser, sync_loss, window_starts)
from pixeldrift.diffusion.gaussian_mixture import GaussianMixture, example_mixture
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import karras_sigmas

SIGMAS = karras_sigmas(12, 0.002, 80.0).double()


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def pointwise_denoiser(x, sigma):
    """The exact denoiser of pixels drawn independently from the 2-D example mixture (channels = 2): it acts on
    each pixel alone, so it commutes with every translation and crop."""
    mixture, (n, c, h, w) = example_mixture(), x.shape
    per_pixel = x.permute(0, 2, 3, 1).reshape(-1, c)
    denoised = mixture.denoise(per_pixel, sigma.repeat_interleave(h * w))
    return denoised.reshape(n, h, w, c).permute(0, 3, 1, 2)


def flat_windows(colours=((1.0, -1.0, 0.0), (-1.0, 1.0, 0.0)), side: int = 4) -> GaussianMixture:
    """Windows that are flat pictures of one of two colours (3 channels, side x side), equally likely."""
    means = torch.tensor(colours, dtype=torch.float64)[:, :, None].expand(-1, -1, side * side).reshape(2, -1)
    return GaussianMixture(means, torch.full((2,), 0.05, dtype=torch.float64),
                           torch.full((2,), 0.5, dtype=torch.float64))


def window_denoiser(mixture: GaussianMixture):
    return lambda x, sigma: mixture.denoise(x, sigma)


def noise(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 80.0


def run(sampler, denoiser, x, seed=1):
    return SAMPLERS[sampler](denoiser, x, SIGMAS, generator=torch.Generator().manual_seed(seed))


def test_windows_cover_the_canvas_and_average_back_to_it():
    assert window_starts(16, 4, 2) == [0, 2, 4, 6, 8, 10, 12]
    assert window_starts(10, 4, 4) == [0, 4, 6]  # the last window ends at the edge
    layout = WindowLayout((4, 10), (4, 4), (4, 3))
    x = noise((2, 3, 4, 10))
    assert torch.equal(average_windows(crop_windows(x, layout), layout), x)


@pytest.mark.parametrize("bad, message", [
    (dict(canvas=(4, 8), window=(4, 12), stride=(4, 4)), "larger than the canvas"),
    (dict(canvas=(4, 16), window=(4, 4), stride=(4, 5)), "would leave gaps"),
    (dict(canvas=(4, 16), window=(4, 0), stride=(4, 4)), "two positive integers"),
])
def test_a_layout_that_cannot_cover_the_canvas_is_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        WindowLayout(**bad)


@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m", "euler_ancestral", "heun"])
def test_one_window_is_plain_sampling_exactly(sampler):
    mixture = flat_windows()
    layout = WindowLayout((4, 4), (4, 4), (4, 4))
    x = noise((3, 3, 4, 4))
    plain = run(sampler, window_denoiser(mixture), x)
    assert torch.equal(run(sampler, WindowedDenoiser(window_denoiser(mixture), layout), x), plain)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_overlapping_windows_of_a_translation_equivariant_denoiser_equal_the_whole_canvas(sampler):
    x = noise((2, 2, 6, 20))
    whole = run(sampler, pointwise_denoiser, x)
    for stride in (1, 3, 6):
        layout = WindowLayout((6, 20), (6, 6), (6, stride))
        windowed = run(sampler, WindowedDenoiser(pointwise_denoiser, layout), x)
        assert torch.allclose(windowed, whole, rtol=0, atol=1e-10), (sampler, stride)


def test_independent_tiles_are_each_tile_sampled_alone():
    mixture, x = flat_windows(), noise((2, 3, 4, 12))
    layout = WindowLayout((4, 12), (4, 4), (4, 2))
    tiles = run("euler", panorama_denoiser(window_denoiser(mixture), "independent", layout), x)
    for left in (0, 4, 8):
        alone = run("euler", window_denoiser(mixture), x[..., left:left + 4])
        assert torch.equal(tiles[..., left:left + 4], alone)


def tile_colour_spread(canvas: torch.Tensor, side: int = 4) -> float:
    """Mean over samples of the std across tiles of each tile's mean colour."""
    colours = torch.stack([canvas[..., left:left + side].mean((2, 3)) for left in range(0, canvas.shape[-1], side)])
    return float(colours.std(0).sum(1).mean())


def test_sync_at_strength_zero_is_multidiffusion_and_above_it_aligns_the_windows_colours():
    mixture, x = flat_windows(), noise((16, 3, 4, 32), seed=3)
    layout = WindowLayout((4, 32), (4, 4), (4, 2))
    denoiser = window_denoiser(mixture)
    spreads = {}
    for method, strength in (("independent", 0), ("multidiffusion", 0), ("sync", 0), ("sync", 2.0)):
        wrapped = panorama_denoiser(denoiser, method, layout, decode=lambda z: z, sync_strength=strength)
        spreads[method, strength] = tile_colour_spread(run("euler", wrapped, x))
    assert spreads["sync", 0] == spreads["multidiffusion", 0]
    assert spreads["sync", 2.0] < 0.1 * spreads["independent", 0], spreads
    assert spreads["sync", 2.0] < 0.5 * spreads["multidiffusion", 0], spreads


def test_the_sync_loss_is_zero_for_windows_alike_and_its_gradient_leaves_the_anchor_fixed():
    same = torch.ones(3, 3, 4, 4).repeat(2, 1, 1, 1)  # 2 windows x 3 samples, identical
    assert float(sync_loss(same, windows=2)) == 0
    pixels = torch.randn(6, 3, 4, 4, requires_grad=True)
    grad, = torch.autograd.grad(sync_loss(pixels, windows=2), pixels)
    assert float(grad[:3].abs().max()) == 0 < float(grad[3:].abs().max())


def test_sync_needs_a_decoder_and_a_real_anchor():
    layout = WindowLayout((4, 8), (4, 4), (4, 2))
    with pytest.raises(ValueError, match="needs the model's decoder"):
        panorama_denoiser(pointwise_denoiser, "sync", layout)
    with pytest.raises(ValueError, match="anchor window 3 is not one of the 3 windows"):
        SyncDenoiser(pointwise_denoiser, layout, lambda z: z, 1.0, anchor=3)
    with pytest.raises(ValueError, match="unknown panorama method 'tiles'"):
        panorama_denoiser(pointwise_denoiser, "tiles", layout)
