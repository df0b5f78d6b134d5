"""The super-resolution backbone: its conditioning's shape is checked, it has no attention, and at initialisation
its EDM denoiser is c_skip * x exactly."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from pixeldrift.diffusion.parameterization import EDMDenoiser
from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.nets.upscaler import UPSCALER_PRESETS, LowResConditionedUNet, enlarge

TINY = UPSCALER_PRESETS["tiny"]


def test_the_low_res_image_must_be_enlarged_to_the_noisy_images_shape():
    net = LowResConditionedUNet(TINY)
    x = torch.randn(2, 3, 16, 16)
    assert net(x, torch.zeros(2), low_res=torch.randn(2, 3, 16, 16)).shape == (2, 3, 16, 16)
    for wrong in [(2, 3, 8, 8), (1, 3, 16, 16), (2, 1, 16, 16)]:
        with pytest.raises(ValueError, match="low_res must be the low-resolution image enlarged"):
            net(x, torch.zeros(2), low_res=torch.randn(*wrong))


def test_the_output_depends_on_the_low_res_image():
    torch.manual_seed(0)
    net = LowResConditionedUNet(TINY)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(1, 3, 16, 16)
    a = net(x, torch.zeros(1), low_res=torch.zeros(1, 3, 16, 16))
    b = net(x, torch.zeros(1), low_res=torch.ones(1, 3, 16, 16))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("preset", list(UPSCALER_PRESETS))
def test_no_attention_anywhere(preset):
    net = LowResConditionedUNet(UPSCALER_PRESETS[preset])
    assert not any(isinstance(m, MultiHeadAttention) for m in net.modules())


@pytest.mark.parametrize("change, message", [
    (dict(in_channels=3), "in_channels must be 2 x out_channels"),
    (dict(attention_levels=(1,)), "fully convolutional"),
    (dict(context_dim=64), "fully convolutional"),
])
def test_unets_that_do_not_fit_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        LowResConditionedUNet(replace(TINY, **change))


def test_at_initialisation_the_denoiser_is_c_skip_times_x():
    denoiser = EDMDenoiser(LowResConditionedUNet(TINY), sigma_data=0.5)
    x, sigma = torch.randn(2, 3, 16, 16), torch.tensor([0.3, 7.0])
    expected = x * (0.25 / (sigma**2 + 0.25))[:, None, None, None]
    assert torch.allclose(denoiser(x, sigma, low_res=torch.randn(2, 3, 16, 16)), expected, atol=1e-7)


def test_enlarge_is_bicubic_and_stays_in_range():
    low = torch.tensor([[[[-1.0, 1.0], [1.0, -1.0]]]])
    big = enlarge(low, 4)
    assert big.shape == (1, 1, 8, 8) and big.min() >= -1 and big.max() <= 1
    flat = torch.full((1, 3, 4, 4), 0.25)
    assert torch.allclose(enlarge(flat, 2), torch.full((1, 3, 8, 8), 0.25))
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        enlarge(torch.zeros(3, 4, 4), 2)
