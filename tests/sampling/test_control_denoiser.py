"""The ControlNet denoiser wrapper: residuals summed by strength, acting only in its range of sigmas."""

from __future__ import annotations

import math

import pytest
import torch

from pixeldrift.diffusion.parameterization import EDMDenoiser
from pixeldrift.sampling.control import ControlDenoiser, ControlUnit, sigma_range
from pixeldrift.sampling.guidance import CFGDenoiser


class Backbone(torch.nn.Module):
    """out = x + the sum of the control residuals (one 'skip'), recording what it was given."""

    def forward(self, x, noise_level, context=None, control=None):
        self.levels = noise_level
        return x if control is None else x + control[0]


class FakeControlNet:
    """One residual: hint's mean plus `bias`, per sample; records its inputs."""

    def __init__(self, bias: float):
        self.bias, self.calls = bias, []

    def __call__(self, x_in, noise_level, hint, context=None):
        self.calls.append((x_in, noise_level, hint, context))
        return [hint.mean(dim=(1, 2, 3), keepdim=True).expand_as(x_in) + self.bias]


def test_residuals_add_up_weighted_by_strength_and_see_what_the_backbone_sees():
    denoiser = EDMDenoiser(Backbone(), sigma_data=1.0)
    first, second = FakeControlNet(1.0), FakeControlNet(10.0)
    wrapped = ControlDenoiser(denoiser, [ControlUnit(first, torch.zeros(1, 3, 4, 4), 0.5),
                                         ControlUnit(second, torch.zeros(1, 3, 4, 4), 2.0)])
    x, sigma = torch.randn(2, 1, 2, 2), torch.tensor([1.0, 1.0])
    out = wrapped(x, sigma, context=torch.ones(2, 1))
    plain = denoiser(x, sigma, context=torch.ones(2, 1))
    c_out = 1 * 1 / math.sqrt(2)  # EDM's c_out at sigma = sigma_data = 1
    assert torch.allclose(out - plain, torch.full_like(x, c_out * (0.5 * 1 + 2 * 10)))
    x_in, level, _, context = first.calls[0]
    assert torch.allclose(x_in, x * denoiser.input_scale(sigma)[:, None, None, None])
    assert torch.equal(level, denoiser.noise_level(sigma)) and torch.equal(context, torch.ones(2, 1))


def test_a_unit_acts_only_inside_its_sigma_range():
    net = FakeControlNet(1.0)
    wrapped = ControlDenoiser(EDMDenoiser(Backbone()), [ControlUnit(net, torch.zeros(1, 3, 4, 4), 1.0, 0.5, 2.0)])
    x = torch.randn(1, 1, 2, 2)
    assert torch.equal(wrapped(x, torch.tensor([5.0])), EDMDenoiser(Backbone())(x, torch.tensor([5.0])))
    assert not net.calls  # outside its range the ControlNet is not even run
    assert not torch.equal(wrapped(x, torch.tensor([1.0])), EDMDenoiser(Backbone())(x, torch.tensor([1.0])))


def test_the_step_fractions_select_sigmas_as_diffusers_does():
    sigmas = torch.tensor([10.0, 8.0, 6.0, 4.0, 2.0, 0.0])  # 5 steps
    assert sigma_range(sigmas, 0.0, 1.0) == (2.0, 10.0)
    assert sigma_range(sigmas, 0.2, 0.6) == (6.0, 8.0)  # steps 1 and 2
    low, high = sigma_range(sigmas, 0.5, 0.55)
    assert low > high  # no whole step inside: never active


def test_guidance_gives_the_control_to_both_branches_and_per_sample_maps_follow_their_sample():
    net = FakeControlNet(0.0)
    hints = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])  # one map per sample
    inner = ControlDenoiser(EDMDenoiser(Backbone(), sigma_data=1.0), [ControlUnit(net, hints, 1.0)])
    cond, uncond = {"context": torch.ones(2, 1)}, {"context": torch.zeros(2, 1)}
    CFGDenoiser(inner, scale=3.0)(torch.zeros(2, 1, 2, 2), torch.tensor([1.0, 1.0]), cond, uncond)
    batch_hint = net.calls[0][2]
    assert batch_hint.shape[0] == 4 and batch_hint[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_a_map_batch_that_does_not_divide_the_batch_is_refused():
    wrapped = ControlDenoiser(EDMDenoiser(Backbone()), [ControlUnit(FakeControlNet(0.0), torch.zeros(2, 3, 4, 4))])
    with pytest.raises(ValueError, match="does not divide the batch of 3"):
        wrapped(torch.zeros(3, 1, 2, 2), torch.ones(3))
    with pytest.raises(ValueError, match="at least one control unit"):
        ControlDenoiser(EDMDenoiser(Backbone()), [])
