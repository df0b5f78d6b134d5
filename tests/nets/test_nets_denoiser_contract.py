"""The contract every denoiser backbone (UNet, DiT) keeps with the diffusion and sampling rooms.

net(x, noise_level, context=None, context_mask=None) -> out shaped like x;
per-sample computation (guidance batches cond and uncond together); padding
tokens ignored; every parameter trained; zero output at initialisation.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixeldrift.nets import DIT_PRESETS, UNET_PRESETS, DiT, UNet
from pixeldrift.nets.dit import DiTBlock
from pixeldrift.nets.unet import ResBlock, TransformerBlock

BUILDERS = {"unet": lambda: UNet(UNET_PRESETS["tiny"]), "dit": lambda: DiT(DIT_PRESETS["tiny"])}


def build(kind: str, randomize_zero_layers: bool = True) -> nn.Module:
    """A tiny network; the zero-initialised layers get random values so the output depends on everything."""
    torch.manual_seed(0)
    net = BUILDERS[kind]()
    if randomize_zero_layers:
        with torch.no_grad():
            for p in net.parameters():
                if not p.any():
                    p.normal_(0.0, 0.1)
    return net.eval()


def inputs(net: nn.Module, batch: int = 3, tokens: int = 5, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 4, 16, 16, generator=g)
    noise_level = torch.rand(batch, generator=g) * 999
    context = torch.randn(batch, tokens, net.cfg.context_dim, generator=g)
    return x, noise_level, context


@pytest.mark.parametrize("kind", BUILDERS)
def test_output_has_the_shape_of_the_input_and_depends_on_everything(kind):
    net = build(kind)
    x, level, context = inputs(net)
    with torch.no_grad():
        out = net(x, level, context=context)
        assert out.shape == x.shape
        assert not torch.allclose(out, net(x, level + 50.0, context=context)), "noise level ignored"
        assert not torch.allclose(out, net(x, level, context=context + 1.0)), "context ignored"
        assert not torch.allclose(out, net(x, level)), "unconditional equals conditional"


@pytest.mark.parametrize("kind", BUILDERS)
def test_any_real_noise_level_is_accepted(kind):
    """The adapters pass DDPM timesteps, EDM's ln(sigma)/4 (negative too) and 1000 t."""
    net = build(kind)
    x, _, context = inputs(net, batch=4)
    with torch.no_grad():
        out = net(x, torch.tensor([-2.3, 0.0, 0.37, 999.5]), context=context)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", BUILDERS)
def test_a_sample_gives_the_same_output_alone_and_within_a_batch(kind):
    net = build(kind)
    x, level, context = inputs(net, batch=5)
    mask = torch.rand(5, context.shape[1], generator=torch.Generator().manual_seed(3)) > 0.3
    mask[:, 0] = True
    with torch.no_grad():
        together = net(x, level, context=context, context_mask=mask)
        alone = torch.cat([net(x[i:i + 1], level[i:i + 1], context=context[i:i + 1],
                               context_mask=mask[i:i + 1]) for i in range(5)])
    torch.testing.assert_close(alone, together, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", BUILDERS)
def test_padding_tokens_do_not_change_the_output(kind):
    net = build(kind)
    x, level, context = inputs(net, batch=2, tokens=4)
    garbage = 100.0 * torch.randn(2, 6, context.shape[2])  # padding holding anything at all
    padded = torch.cat([context, garbage], dim=1)
    mask = torch.cat([torch.ones(2, 4, dtype=torch.bool), torch.zeros(2, 6, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        short = net(x, level, context=context)
        long = net(x, level, context=padded, context_mask=mask)
        unmasked = net(x, level, context=padded)
    torch.testing.assert_close(long, short, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unmasked, short, atol=1e-3), "the padding should matter when it is not masked"


@pytest.mark.parametrize("kind", BUILDERS)
def test_a_fully_masked_context_acts_as_no_context(kind):
    net = build(kind)
    x, level, context = inputs(net, batch=2)
    with torch.no_grad():
        masked = net(x, level, context=context, context_mask=torch.zeros(2, context.shape[1], dtype=torch.bool))
        unconditional = net(x, level)
    assert torch.isfinite(masked).all()
    torch.testing.assert_close(masked, unconditional, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", BUILDERS)
def test_gradients_reach_every_parameter(kind):
    net = build(kind).train()
    x, level, context = inputs(net, batch=2)
    mask = torch.ones(2, context.shape[1], dtype=torch.bool)
    net(x, level, context=context, context_mask=mask).pow(2).mean().backward()
    without_gradient = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert without_gradient == []


@pytest.mark.parametrize("kind", BUILDERS)
def test_a_fresh_network_outputs_zero_and_its_residual_blocks_are_identities(kind):
    net = build(kind, randomize_zero_layers=False)
    blocks = [m for m in net.modules() if isinstance(m, (DiTBlock, TransformerBlock))
              or (isinstance(m, ResBlock) and isinstance(m.skip, nn.Identity))]
    assert blocks, "no residual blocks found"
    seen = []
    hooks = [b.register_forward_hook(lambda m, args, out: seen.append(torch.equal(out, args[0]))) for b in blocks]
    x, level, context = inputs(net)
    with torch.no_grad():
        out = net(x, level, context=context)
    for hook in hooks:
        hook.remove()
    assert torch.equal(out, torch.zeros_like(x))
    assert len(seen) == len(blocks) and all(seen)


@pytest.mark.parametrize("kind", BUILDERS)
def test_bad_inputs_are_named(kind):
    net = build(kind)
    x, level, context = inputs(net, batch=2)
    with pytest.raises(ValueError, match="noise_level must have shape"):
        net(x, level[:1])
    with pytest.raises(ValueError, match="context must have shape"):
        net(x, level, context=context[..., :-1])
    with pytest.raises(ValueError, match="context_mask must have shape"):
        net(x, level, context=context, context_mask=torch.ones(2, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="multiples of"):
        net(torch.randn(2, 4, 15, 16), level)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4, H, W\)"):
        net(torch.randn(2, 3, 16, 16), level)
