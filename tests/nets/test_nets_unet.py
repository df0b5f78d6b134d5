"""UNet-specific checks: every preset builds with the right shapes, sizes fit their purpose."""

from __future__ import annotations

import pytest
import torch

from pixeldrift.nets import UNET_PRESETS, UNet, UNetConfig


def parameter_count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("preset", UNET_PRESETS)
def test_every_preset_maps_latents_to_latents(preset):
    """Built on the meta device: shapes are propagated without allocating or computing anything."""
    cfg = UNET_PRESETS[preset]
    with torch.device("meta"):
        net = UNet(cfg)
        out = net(torch.randn(2, 4, 16, 16), torch.rand(2), context=torch.randn(2, 7, cfg.context_dim))
    assert out.shape == (2, 4, 16, 16)


def test_preset_sizes_fit_their_purpose():
    with torch.device("meta"):
        sizes = {name: parameter_count(UNet(cfg)) for name, cfg in UNET_PRESETS.items()}
    assert sizes["tiny"] < 1_000_000
    assert 2_000_000 <= sizes["small"] <= 6_000_000
    assert sizes["small"] < sizes["base"] < sizes["large"]


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_cpu_presets_run_on_real_tensors(preset):
    cfg = UNET_PRESETS[preset]
    net = UNet(cfg).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 4, 16, 16), torch.tensor([10.0, 500.0]), context=torch.randn(2, 9, cfg.context_dim))
    assert out.shape == (2, 4, 16, 16) and torch.isfinite(out).all()


def test_pixel_space_unconditional_configuration():
    """The 32x32 teaching setup: RGB in and out, no VAE, no text."""
    cfg = UNetConfig(in_channels=3, out_channels=3, base_channels=16, channel_mults=(1, 2, 2),
                     attention_levels=(2,), head_channels=16, context_dim=None, norm_groups=8)
    net = UNet(cfg)
    out = net(torch.randn(2, 3, 32, 32), torch.tensor([1.0, 2.0]))
    assert out.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="without cross-attention"):
        net(torch.randn(2, 3, 32, 32), torch.tensor([1.0, 2.0]), context=torch.randn(2, 3, 8))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"channel_mults": ()}, "channel_mults must list 1 to 8 levels"),
        ({"attention_levels": (5,)}, r"attention_levels \[5\] out of range"),
        ({"base_channels": 40}, "divisible by norm_groups"),
        ({"blocks_per_level": 0}, r"blocks_per_level must be an integer from 1 to 16, got 0"),
        ({"dropout": 1.5}, "dropout must be in"),
    ],
)
def test_bad_configs_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        UNetConfig(**overrides)


def test_upsampling_doubles_exactly_as_nearest_interpolation():
    """Upsample copies by broadcasting (faster on CPUs); it must equal F.interpolate's nearest, bit for bit."""
    from pixeldrift.nets.unet import Upsample

    block, x = Upsample(3), torch.randn(2, 3, 5, 7)
    expected = block.conv(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
    assert torch.equal(block(x), expected)
