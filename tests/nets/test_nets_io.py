"""Weights as safetensors: exact round trip, atomic writes, clear all-or-nothing failures."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from pixeldrift.nets import UNET_PRESETS, UNet, WeightsError, load_weights, save_weights
from pixeldrift.nets.text_encoder import TEXT_ENCODER_PRESETS, TextEncoder


def tiny_unet(seed: int) -> UNet:
    torch.manual_seed(seed)
    net = UNet(UNET_PRESETS["tiny"])
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))  # also moves the zero-initialised layers off zero
    return net


def test_round_trip_restores_every_tensor_exactly(tmp_path):
    source, target = tiny_unet(0), tiny_unet(1)
    save_weights(source, tmp_path / "unet.safetensors", metadata={"preset": "tiny"})
    load_weights(target, tmp_path / "unet.safetensors")
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert [p.name for p in tmp_path.iterdir()] == ["unet.safetensors"]  # no temporary file left behind


def test_overwriting_keeps_a_readable_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(tiny_unet(0), path)
    save_weights(tiny_unet(2), path)
    target = tiny_unet(1)
    load_weights(target, path)
    assert torch.equal(target.conv_in.weight, tiny_unet(2).conv_in.weight)


def test_text_encoder_round_trip(tmp_path):
    torch.manual_seed(0)
    source, target = TextEncoder(TEXT_ENCODER_PRESETS["tiny"]), TextEncoder(TEXT_ENCODER_PRESETS["tiny"])
    save_weights(source, tmp_path / "text.safetensors")
    load_weights(target, tmp_path / "text.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(target.encode(["héllo"]).context, source.encode(["héllo"]).context)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupt_file_is_named_and_nothing_is_loaded(tmp_path, damage):
    path = tmp_path / "w.safetensors"
    save_weights(tiny_unet(0), path)
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a safetensors file at all", "truncated": data[: len(data) // 2],
                      "empty": b""}[damage])
    target = tiny_unet(1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightsError, match="is not a readable safetensors file"):
        load_weights(target, path)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_missing_unexpected_and_misshapen_tensors_are_all_named_and_nothing_is_loaded(tmp_path):
    tensors = {k: v.clone() for k, v in tiny_unet(0).state_dict().items()}
    del tensors["conv_out.bias"]
    tensors["extra.weight"] = torch.zeros(3)
    tensors["conv_in.weight"] = torch.zeros(1, 2, 3, 3)
    save_file(tensors, tmp_path / "bad.safetensors")
    target = tiny_unet(1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightsError) as caught:
        load_weights(target, tmp_path / "bad.safetensors")
    message = str(caught.value)
    assert "1 missing keys: conv_out.bias" in message
    assert "1 unexpected keys: extra.weight" in message
    assert "conv_in.weight (1, 2, 3, 3) (expected (32, 4, 3, 3))" in message
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_long_lists_of_keys_are_shortened(tmp_path):
    save_file({"only.this": torch.zeros(1)}, tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match=r"missing keys: .* and \d+ more"):
        load_weights(tiny_unet(0), tmp_path / "other.safetensors")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(WeightsError, match="nothing.safetensors is not a readable safetensors file: no such"):
        load_weights(tiny_unet(0), tmp_path / "nothing.safetensors")
