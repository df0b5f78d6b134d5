"""Broken or wrong files give one clear error naming the file and the problem; nothing is left half-loaded."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from pixeldrift.pretrained import CheckpointError, open_model
from tiny_sd_models import to_single_file


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=f"{tmp_path}: not a model folder"):
        open_model(tmp_path)


def test_missing_path_and_unknown_suffix(tmp_path):
    with pytest.raises(CheckpointError, match="no such file or folder"):
        open_model(tmp_path / "nothing.safetensors")
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="model.onnx: not a checkpoint file"):
        open_model(tmp_path / "model.onnx")


def test_truncated_safetensors(sd1_folder, tmp_path):
    whole = to_single_file(sd1_folder, tmp_path / "whole.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors: the tensors need .* bytes.*truncated"):
        open_model(cut, config=sd1_folder)
    cut.write_bytes(whole[:100])
    with pytest.raises(CheckpointError, match="cut.safetensors: the header claims .* only 92 follow; .*truncated"):
        open_model(cut, config=sd1_folder)


def test_oversized_or_garbage_header(tmp_path):
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="huge.safetensors: the header claims 1000000000000 bytes, over"):
        open_model(huge)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes((5).to_bytes(8, "little") + b"\xff\xfe{[}")
    with pytest.raises(CheckpointError, match="garbage.safetensors: the safetensors header is not valid JSON"):
        open_model(garbage)


def test_mismatched_shapes_name_the_tensor(sd1_folder, tmp_path):
    single = to_single_file(sd1_folder, tmp_path / "bad.safetensors")
    tensors = load_file(single)
    key = "model.diffusion_model.input_blocks.0.0.bias"
    tensors[key] = torch.zeros(7)
    save_file(tensors, single)
    with pytest.raises(CheckpointError, match=r"bad.safetensors \(UNet\) does not fit .*wrong shapes: conv_in.bias"):
        open_model(single, config=sd1_folder)
    folder = tmp_path / "folder"
    shutil.copytree(sd1_folder, folder)
    weights = folder / "vae" / "diffusion_pytorch_model.safetensors"
    vae = load_file(weights)
    del vae["decoder.conv_out.bias"]
    save_file(vae, weights)
    with pytest.raises(CheckpointError, match=r"folder/vae does not fit AutoencoderKL: 1 missing keys: decoder.conv_out"):
        open_model(folder)


def test_unknown_family_and_non_model_file(sd1_folder, tmp_path):
    with pytest.raises(CheckpointError, match="unknown model family 'sd9'"):
        open_model(sd1_folder, family="sd9")
    lora_like = tmp_path / "lora.safetensors"
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2, 2)}, lora_like)
    with pytest.raises(CheckpointError, match="lora.safetensors: not a Stable Diffusion checkpoint"):
        open_model(lora_like)


def test_broken_model_index(sd1_folder, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(sd1_folder, folder)
    (folder / "model_index.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="model_index.json: not valid JSON"):
        open_model(folder)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(CheckpointError, match="not a Stable Diffusion model"):
        open_model(folder)


def test_importing_the_room_loads_neither_diffusers_nor_transformers():
    code = ("import sys, pixeldrift.pretrained; "
            "print(sorted(m for m in ('diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_extra_says_how_to_install(sd1_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers now raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e '\.\[pretrained\]'"):
        open_model(sd1_folder)
