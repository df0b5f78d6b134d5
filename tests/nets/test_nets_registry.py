"""Building networks by family name from a config, its JSON dict, or a preset name."""

from __future__ import annotations

import pytest
import torch

from pixeldrift.nets import ARCHITECTURES, DiT, UNetConfig, build_network, resolve_config


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_config_dict_from_json_rebuilds_the_same_network(arch):
    cfg = ARCHITECTURES[arch].presets["tiny"]
    torch.manual_seed(0)
    first = build_network(arch, "tiny")
    torch.manual_seed(0)
    second = build_network(arch, cfg.to_dict())
    assert type(first) is ARCHITECTURES[arch].module_class and first.cfg == cfg == second.cfg
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(),
                                                  strict=True))


def test_unknown_names_and_wrong_config_types_are_named():
    with pytest.raises(ValueError, match="unknown network architecture 'gan'; accepted: unet, dit, vae"):
        build_network("gan", "tiny")
    with pytest.raises(ValueError, match="unknown dit preset 'huge'; accepted: tiny, small, base, large"):
        build_network("dit", "huge")
    with pytest.raises(TypeError, match="dit needs a DiTConfig, got UNetConfig"):
        resolve_config("dit", UNetConfig())
    assert isinstance(build_network("dit", "tiny"), DiT)
