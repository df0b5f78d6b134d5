"""LoRA layers (Hu et al. 2021): the frozen layer exactly at initialisation, eq. 3 after training, the
base weights untouched, and removal gives the original modules back."""

import pytest
import torch
from torch import nn

from pixeldrift.nets import UNET_PRESETS, UNet
from pixeldrift.nets.lora import (LoRALayer, add_lora, attention_projections, convolutions, lora_layers,
                                  low_rank_delta, remove_lora)


def tiny_unet() -> UNet:
    torch.manual_seed(0)
    net = UNet(UNET_PRESETS["tiny"])
    for parameter in net.parameters():
        nn.init.normal_(parameter, std=0.05)  # zero-initialised layers too, so every layer acts
    return net


def run(net: UNet) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 16, 16, generator=generator)
    context = torch.randn(2, 5, 64, generator=generator)
    return net(x, torch.tensor([0.3, 1.5]), context)


@pytest.mark.parametrize("base", [nn.Linear(12, 7), nn.Conv2d(6, 5, 3, padding=1, stride=2)])
def test_a_fresh_layer_is_the_frozen_one_and_a_trained_one_follows_eq_3(base):
    layer = LoRALayer(base, rank=2, alpha=3.0)
    x = torch.randn(3, 12) if isinstance(base, nn.Linear) else torch.randn(3, 6, 9, 9)
    assert torch.equal(layer(x), base(x))
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["down.weight", "up.weight"]
    with torch.no_grad():
        layer.up.weight.normal_()
    merged = type(base)(*([12, 7] if isinstance(base, nn.Linear) else [6, 5, 3]),
                        **({} if isinstance(base, nn.Linear) else {"padding": 1, "stride": 2}))
    merged.load_state_dict(base.state_dict())
    with torch.no_grad():
        merged.weight += 1.5 * (layer.up.weight.flatten(1) @ layer.down.weight.flatten(1)).view_as(base.weight)
    assert torch.allclose(layer(x), merged(x), atol=1e-5)
    assert torch.allclose(layer.delta(), merged.weight - base.weight, atol=1e-6)


def test_the_unet_with_adapters_starts_equal_and_its_base_weights_never_change():
    net = tiny_unet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    expected = run(net)
    targets = attention_projections(net)
    assert targets and all(t.rsplit(".", 1)[1] in ("to_q", "to_kv", "to_out") for t in targets)
    layers = add_lora(net, targets + convolutions(net), rank=2, alpha=2.0)
    assert torch.equal(run(net), expected)
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert len(trainable) == 2 * len(layers)
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        run(net).square().mean().backward()
        optimizer.step()
    assert not torch.allclose(run(net), expected)
    remove_lora(net)
    assert not lora_layers(net)
    assert net.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(run(net), expected)


def test_bad_ranks_and_layers_are_refused_by_name():
    net = tiny_unet()
    with pytest.raises(ValueError, match="rank must be an integer from 1"):
        add_lora(net, attention_projections(net), rank=0, alpha=1.0)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        add_lora(net, attention_projections(net), rank=2, alpha=float("nan"))
    with pytest.raises(ValueError, match="norm_out: not a plain nn.Linear"):
        add_lora(net, ["norm_out"], rank=2, alpha=1.0)
    name = attention_projections(net)[0]
    add_lora(net, [name], rank=2, alpha=1.0)
    with pytest.raises(ValueError, match="already adapted"):
        add_lora(net, [name], rank=2, alpha=1.0)


def test_the_delta_of_convolution_factors_has_the_kernels_shape():
    down, up = torch.randn(3, 4, 3, 3), torch.randn(8, 3, 1, 1)
    delta = low_rank_delta(down, up, alpha=6.0, shape=torch.Size([8, 4, 3, 3]))
    assert delta.shape == (8, 4, 3, 3)
    assert torch.allclose(delta, 2.0 * torch.einsum("or,rikl->oikl", up[:, :, 0, 0], down), atol=1e-5)
