"""ControlNet (Zhang et al. 2023) on our UNet: a copy of its encoder that starts as a no-op."""

from __future__ import annotations

import pytest
import torch

from pixeldrift.nets import UNET_PRESETS, UNet
from pixeldrift.nets.controlnet import ControlNet, ControlNetConfig


def random_unet(preset: str = "tiny") -> UNet:
    torch.manual_seed(0)
    unet = UNet(UNET_PRESETS[preset]).eval()
    for parameter in unet.parameters():  # zero-initialised layers too: the output is not zero
        torch.nn.init.normal_(parameter, std=0.05)
    return unet


def inputs(cfg, batch: int = 2):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 4, 16, 16, generator=generator)
    context = torch.randn(batch, 5, cfg.context_dim, generator=generator)
    hint = torch.rand(batch, 3, 64, 64, generator=generator)
    return x, torch.tensor([0.1, 2.0][:batch]), context, hint


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_at_initialisation_the_controlled_output_is_the_base_output_exactly(preset):
    unet = random_unet(preset)
    controlnet = ControlNet.from_unet(unet, ControlNetConfig(unet.cfg, image_factor=4))
    x, level, context, hint = inputs(unet.cfg)
    with torch.no_grad():
        residuals = controlnet(x, level, hint, context)
        assert torch.equal(unet(x, level, context, control=residuals), unet(x, level, context))
    assert len(residuals) == len(controlnet.zero_convs) and all(not r.any() for r in residuals)


def test_the_copy_starts_from_the_unets_encoder_weights():
    unet = random_unet()
    controlnet = ControlNet.from_unet(unet)
    own = unet.state_dict()
    copied = [k for k in controlnet.state_dict() if k in own]
    assert copied and all(torch.equal(controlnet.state_dict()[k], own[k]) for k in copied)
    assert any(k.startswith("mid.") for k in copied) and not any(k.startswith("up.") for k in controlnet.state_dict())


def test_gradients_reach_the_copy_through_the_zero_convolutions():
    unet = random_unet().requires_grad_(False)
    controlnet = ControlNet.from_unet(unet, ControlNetConfig(unet.cfg, image_factor=4))
    x, level, context, hint = inputs(unet.cfg)
    unet(x, level, context, control=controlnet(x, level, hint, context)).square().mean().backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv in controlnet.zero_convs)
    assert all(p.grad is None for p in unet.parameters())


def test_residuals_move_the_output_once_the_zero_convolutions_are_not_zero():
    unet = random_unet()
    controlnet = ControlNet.from_unet(unet, ControlNetConfig(unet.cfg, image_factor=4))
    for parameter in controlnet.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    x, level, context, hint = inputs(unet.cfg)
    with torch.no_grad():
        assert not torch.equal(unet(x, level, context, control=controlnet(x, level, hint, context)),
                               unet(x, level, context))


def test_bad_residuals_and_hints_are_refused_with_the_reason():
    unet = random_unet()
    controlnet = ControlNet.from_unet(unet, ControlNetConfig(unet.cfg, image_factor=4))
    x, level, context, hint = inputs(unet.cfg)
    with torch.no_grad():
        residuals = controlnet(x, level, hint, context)
        with pytest.raises(ValueError, match="one per skip, then the middle"):
            unet(x, level, context, control=residuals[:-1])
        with pytest.raises(ValueError, match="control residual 0 has shape"):
            unet(x, level, context, control=[residuals[0][:, :1], *residuals[1:]])
        with pytest.raises(ValueError, match=r"4x the latent's sides"):
            controlnet(x, level, hint[:, :, :32, :32], context)
    with pytest.raises(ValueError, match="power of two"):
        ControlNetConfig(unet.cfg, image_factor=3)
