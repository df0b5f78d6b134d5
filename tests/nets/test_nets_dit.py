"""DiT-specific checks: presets, sizes, and the patch layout."""

from __future__ import annotations

import pytest
import torch

from pixeldrift.nets import DIT_PRESETS, DiT, DiTConfig
from pixeldrift.nets.dit import grid_position_embedding


@pytest.mark.parametrize("preset", DIT_PRESETS)
def test_every_preset_maps_latents_to_latents(preset):
    cfg = DIT_PRESETS[preset]
    with torch.device("meta"):
        out = DiT(cfg)(torch.randn(2, 4, 16, 16), torch.rand(2), context=torch.randn(2, 7, cfg.context_dim))
    assert out.shape == (2, 4, 16, 16)


def test_preset_sizes_grow_and_tiny_is_under_a_million():
    with torch.device("meta"):
        sizes = [sum(p.numel() for p in DiT(cfg).parameters()) for cfg in DIT_PRESETS.values()]
    assert sizes[0] < 1_000_000
    assert sizes == sorted(sizes)


def test_unpatchify_puts_each_token_back_on_its_own_patch():
    """Token t of a (h, w) grid must land on rows p*(t // w)... and columns p*(t % w)..."""
    cfg = DiTConfig(in_channels=2, out_channels=2, patch_size=2, hidden_dim=8, depth=1, heads=2, context_dim=None)
    net = DiT(cfg)
    height, width = 6, 8
    grid_w = width // 2
    tokens = (height // 2) * grid_w
    patches = torch.arange(tokens, dtype=torch.float32)[None, :, None].expand(1, tokens, 2 * 2 * 2)
    image = net._unpatchify(patches, height, width)  # (1, 2, 6, 8)
    rows = torch.arange(height)[:, None]
    cols = torch.arange(width)[None, :]
    expected = (rows // 2) * grid_w + cols // 2
    assert torch.equal(image[0, 0], expected.float()) and torch.equal(image[0, 1], expected.float())


def test_position_embedding_distinguishes_every_patch():
    pos = grid_position_embedding(4, 4, 32, torch.device("cpu"))
    assert pos.shape == (16, 32)
    assert torch.cdist(pos, pos).add(torch.eye(16)).min() > 0.1


def test_non_square_inputs_work():
    cfg = DIT_PRESETS["tiny"]
    out = DiT(cfg)(torch.randn(1, 4, 8, 12), torch.tensor([3.0]))
    assert out.shape == (1, 4, 8, 12)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"hidden_dim": 30, "heads": 4}, "divisible by heads"), ({"depth": 0}, r"depth must be an integer from 1 to \d+, got 0")],
)
def test_bad_configs_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        DiTConfig(**overrides)
