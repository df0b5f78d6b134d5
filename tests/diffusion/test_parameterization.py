"""Each adapter, wrapped around a network that is exact in its own convention, is the exact denoiser."""

import pytest
import torch

from pixeldrift.diffusion.forward import add_noise, sigma_space_from_vp, vp_from_sigma_space
from pixeldrift.diffusion.gaussian_mixture import example_mixture
from pixeldrift.diffusion.gaussian_mixture_networks import EDMNetwork, FlowNetwork, VPNetwork
from pixeldrift.diffusion.losses import denoising_loss
from pixeldrift.diffusion.parameterization import EDMDenoiser, EpsDenoiser, FlowDenoiser, VDenoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule

MIXTURE = example_mixture()
SCHEDULE = DiscreteSchedule.named("scaled_linear")


def adapters():
    return {
        "eps": EpsDenoiser(VPNetwork(MIXTURE, SCHEDULE, "eps"), SCHEDULE),
        "v": VDenoiser(VPNetwork(MIXTURE, SCHEDULE, "v"), SCHEDULE),
        "edm": EDMDenoiser(EDMNetwork(MIXTURE)),
        "flow": FlowDenoiser(FlowNetwork(MIXTURE)),
    }


@pytest.mark.parametrize("name", ["eps", "v", "edm", "flow"])
def test_adapter_recovers_the_exact_denoiser(name):
    g = torch.Generator().manual_seed(0)
    x0 = MIXTURE.sample(64, g)
    sigma = torch.exp(torch.empty(64, dtype=torch.float64).uniform_(-3, 2.5, generator=g)).clamp(0.03, 14)
    x = add_noise(x0, sigma, torch.randn(x0.shape, generator=g, dtype=torch.float64))
    assert torch.allclose(adapters()[name](x, sigma), MIXTURE.denoise(x, sigma), atol=1e-9)


def test_vp_and_sigma_space_are_one_rescaling():
    x = torch.randn(5, 3, dtype=torch.float64)
    sigma = torch.tensor([0.1, 0.5, 1.0, 3.0, 10.0], dtype=torch.float64)
    x_t = vp_from_sigma_space(x, sigma)
    assert torch.allclose(sigma_space_from_vp(x_t, sigma), x)
    alpha_bar = 1 / (1 + sigma**2)
    x0, eps = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    vp = alpha_bar.sqrt()[:, None] * x0 + (1 - alpha_bar).sqrt()[:, None] * eps
    assert torch.allclose(vp_from_sigma_space(add_noise(x0, sigma, eps), sigma), vp)


class LinearNet(torch.nn.Module):
    """An arbitrary, imperfect network: the loss identities must hold for any prediction."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(0.7, dtype=torch.float64))

    def forward(self, x, noise_level):
        return self.weight * x + 0.01 * noise_level[:, None]


def test_each_loss_is_the_mse_on_its_own_target():
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(32, 2, generator=g, dtype=torch.float64)
    noise = torch.randn(32, 2, generator=g, dtype=torch.float64)
    sigma = torch.linspace(0.05, 5.0, 32, dtype=torch.float64)
    net = LinearNet()
    x = x0 + sigma[:, None] * noise
    c = (1 + sigma**2).rsqrt()[:, None]
    t = SCHEDULE.timestep(sigma)
    targets = {
        EpsDenoiser(net, SCHEDULE): (net(x * c, t), noise),
        VDenoiser(net, SCHEDULE): (net(x * c, t), c * noise - sigma[:, None] * c * x0),
    }
    tf = sigma / (1 + sigma)
    x_t = (1 - tf)[:, None] * x0 + tf[:, None] * noise
    targets[FlowDenoiser(net)] = (net(x_t, tf * 1000), noise - x0)
    for denoiser, (prediction, target) in targets.items():
        expected = (prediction - target).pow(2).mean(1)
        assert torch.allclose(denoising_loss(denoiser, x0, sigma, noise), expected, rtol=1e-9), type(denoiser)


def test_training_sigma_samplers_draw_from_their_stated_distributions():
    from pixeldrift.diffusion.losses import (discrete_sigma_sampler, lognormal_sigma_sampler,
                                             logit_normal_flow_sigma_sampler)
    g = torch.Generator().manual_seed(0)
    discrete = discrete_sigma_sampler(SCHEDULE)(20_000, g)
    table = SCHEDULE.sigmas.float()
    assert torch.isin(discrete, table).all() and len(discrete.unique()) > 900
    lognormal = lognormal_sigma_sampler(-1.2, 1.2)(20_000, g).log()
    assert abs(lognormal.mean().item() + 1.2) < 0.05 and abs(lognormal.std().item() - 1.2) < 0.05
    t = logit_normal_flow_sigma_sampler()(20_000, g)
    t = t / (1 + t)  # back to flow time
    assert abs(t.median().item() - 0.5) < 0.02 and t.max() < 1 and t.min() > 0
