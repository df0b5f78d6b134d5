"""Every network config round-trips through JSON and rejects unknown, missing and mistyped keys."""

from __future__ import annotations

import json

import pytest

from pixeldrift.nets import (
    DIT_PRESETS,
    TEXT_ENCODER_PRESETS,
    UNET_PRESETS,
    VAE_PRESETS,
    DiTConfig,
    TextEncoderConfig,
    UNetConfig,
    VAEConfig,
)

ALL_PRESETS = [
    (cls, name, cfg)
    for cls, presets in ((UNetConfig, UNET_PRESETS), (DiTConfig, DIT_PRESETS), (VAEConfig, VAE_PRESETS),
                         (TextEncoderConfig, TEXT_ENCODER_PRESETS))
    for name, cfg in presets.items()
]


@pytest.mark.parametrize(("cls", "name", "cfg"), ALL_PRESETS, ids=[f"{c.__name__}-{n}" for c, n, _ in ALL_PRESETS])
def test_presets_round_trip_through_json_text(cls, name, cfg):
    restored = cls.from_json(cfg.to_json())
    assert restored == cfg
    assert json.loads(cfg.to_json()) == cfg.to_dict()


def test_tuples_and_none_come_back_with_their_types():
    cfg = UNetConfig(channel_mults=(1, 2), attention_levels=(), context_dim=None)
    data = json.loads(cfg.to_json())
    assert data["channel_mults"] == [1, 2] and data["context_dim"] is None
    restored = UNetConfig.from_dict(data)
    assert restored.channel_mults == (1, 2) and restored.attention_levels == () and restored.context_dim is None


def test_an_integer_is_accepted_for_a_float_field():
    data = VAEConfig().to_dict() | {"latent_scale": 2}
    assert VAEConfig.from_dict(data).latent_scale == 2.0


def test_unknown_and_missing_keys_are_both_named():
    data = UNetConfig().to_dict()
    del data["head_channels"]
    data["heads"] = 4
    with pytest.raises(ValueError, match=r"unknown keys \['heads'\], missing keys \['head_channels'\]"):
        UNetConfig.from_dict(data)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("base_channels", "64", "UNetConfig.base_channels: expected int"),
     ("channel_mults", 2, "UNetConfig.channel_mults: expected a list"),
     ("context_dim", 1.5, "UNetConfig.context_dim: expected int")],
)
def test_wrong_types_are_named(key, value, message):
    with pytest.raises(ValueError, match=message):
        UNetConfig.from_dict(UNetConfig().to_dict() | {key: value})


def test_invalid_json_and_non_objects_are_named():
    with pytest.raises(ValueError, match="DiTConfig: not valid JSON"):
        DiTConfig.from_json("{not json")
    with pytest.raises(TypeError, match="expects a dict"):
        DiTConfig.from_json("[1, 2]")
