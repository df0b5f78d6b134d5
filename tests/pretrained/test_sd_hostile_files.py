"""Hostile Stable Diffusion files (issue 16): paths out of the folder, sizes without bound, malformed headers.

Each ends in a CheckpointError naming the file and the problem, before any network is built
from it or any weight is read.
"""

import json
import shutil
import struct

import pytest
import torch
from safetensors.torch import load_file, save_file

import pixeldrift.pretrained.diffusers_folder as diffusers_folder
from pixeldrift.pretrained import CheckpointError, open_model
from pixeldrift.pretrained.weight_files import read_header

UNET_WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def folder(sd1_folder, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(sd1_folder, copy)
    return copy


def raw_safetensors(path, header: dict, data: bytes = b""):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def shard_unet(folder, shard_name: str):
    """Replace the UNet's weights by an index whose one shard is `shard_name`."""
    weights, index_path = folder / UNET_WEIGHTS, folder / "unet" / "diffusion_pytorch_model.safetensors.index.json"
    if weights.exists():
        index_path.write_text(json.dumps({"weight_map": dict.fromkeys(load_file(weights), "")}))
        weights.unlink()
    keys = json.loads(index_path.read_text())["weight_map"]
    index_path.write_text(json.dumps({"metadata": {}, "weight_map": dict.fromkeys(keys, shard_name)}))


def test_an_index_entry_leading_out_of_the_folder_is_refused(folder, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(folder / UNET_WEIGHTS, outside / "u.safetensors")
    shard_unet(folder, "../../outside/u.safetensors")
    with pytest.raises(CheckpointError, match=r"index.json: entry '.*' names '\.\./\.\./outside/u.safetensors'"):
        open_model(folder)
    shard_unet(folder, str(outside / "u.safetensors"))
    with pytest.raises(CheckpointError, match="index.json: entry .* not a path to a .safetensors shard inside"):
        open_model(folder)


def test_a_symlink_out_of_the_folder_is_refused(folder, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(folder / UNET_WEIGHTS, outside)
    (folder / UNET_WEIGHTS).symlink_to(outside)
    with pytest.raises(CheckpointError, match=r"diffusion_pytorch_model.safetensors: resolves to .*outside the folder"):
        open_model(folder)


def test_a_symlinked_config_out_of_the_folder_is_refused(folder, tmp_path):
    outside = tmp_path / "config.json"
    shutil.move(folder / "vae" / "config.json", outside)
    (folder / "vae" / "config.json").symlink_to(outside)
    with pytest.raises(CheckpointError, match=r"vae/config.json: resolves to .*outside the folder"):
        open_model(folder)


def test_a_huge_layer_count_is_refused_before_building(folder, monkeypatch):
    config = json.loads((folder / "unet" / "config.json").read_text())
    (folder / "unet" / "config.json").write_text(json.dumps({**config, "layers_per_block": 100000}))
    with pytest.raises(CheckpointError, match=r"unet/config.json: layers_per_block must be an integer from 1 to 16"):
        open_model(folder)


def test_an_absurd_parameter_count_is_refused_on_the_meta_device(folder, monkeypatch):
    monkeypatch.setattr(diffusers_folder, "build_checked", lambda *a: pytest.fail("a real network was built"))
    config = json.loads((folder / "unet" / "config.json").read_text())
    wide = {**config, "block_out_channels": [8192] * 4, "down_block_types": ["DownBlock2D"] * 4,
            "up_block_types": ["UpBlock2D"] * 4, "layers_per_block": 16, "norm_num_groups": 32}
    (folder / "unet" / "config.json").write_text(json.dumps(wide))
    with pytest.raises(CheckpointError, match=r"unet: its config describes .* parameters, over the 5e\+09"):
        open_model(folder)


def test_a_huge_config_file_is_refused_before_parsing(folder):
    (folder / "vae" / "config.json").write_text('{"pad": "' + "x" * (2 << 20) + '"}')
    with pytest.raises(CheckpointError, match=r"vae/config.json: \d+ bytes, over the 1048576-byte limit"):
        open_model(folder)


def test_a_weights_file_that_does_not_fit_is_refused_before_the_network_is_built(folder, monkeypatch):
    monkeypatch.setattr(diffusers_folder, "build_checked", lambda *a: pytest.fail("a real network was built"))
    save_file({"conv_in.weight": torch.zeros(2, 2)}, folder / UNET_WEIGHTS)
    with pytest.raises(CheckpointError, match=r"unet does not fit UNet2DConditionModel: \d+ missing keys"):
        open_model(folder)


@pytest.mark.parametrize("offsets", [[0], "0,4", [4, 0], [0, 3], None, [0, True]])
def test_malformed_data_offsets_are_named(tmp_path, offsets):
    path = raw_safetensors(tmp_path / "w.safetensors", {"x": {"dtype": "F32", "shape": [1],
                                                              "data_offsets": offsets}}, b"\0" * 4)
    with pytest.raises(CheckpointError, match=r"w.safetensors: tensor 'x'"):
        read_header(path)


def test_a_header_listing_too_many_tensors_is_refused_before_parsing(tmp_path):
    entries = ",".join(f'"t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(100_001))
    text = ("{" + entries + "}").encode()
    path = tmp_path / "many.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(CheckpointError, match="many.safetensors: the header lists over 100000 tensors"):
        read_header(path)


def test_a_sparse_file_is_refused_on_its_header(folder, monkeypatch):
    """6 GB of holes whose header fits the file: refused because it does not fit the config, unread."""
    monkeypatch.setattr("safetensors.torch.load_file", lambda *a, **k: pytest.fail("the weights were read"))
    count = 1_500_000_000
    path = raw_safetensors(folder / UNET_WEIGHTS, {"conv_in.weight": {"dtype": "F32", "shape": [count],
                                                                      "data_offsets": [0, 4 * count]}})
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size + 4 * count)
    with pytest.raises(CheckpointError, match=r"unet does not fit .*conv_in.weight \(1500000000,\)"):
        open_model(folder)


@pytest.mark.parametrize("dtype", [torch.int8, torch.complex64, torch.bool, torch.float8_e4m3fn])
def test_weights_of_a_non_float_dtype_are_refused(folder, dtype):
    tensors = load_file(folder / UNET_WEIGHTS)
    tensors["conv_in.bias"] = torch.zeros(tensors["conv_in.bias"].shape, dtype=dtype)
    save_file(tensors, folder / UNET_WEIGHTS)
    with pytest.raises(CheckpointError, match=rf"wrong dtypes: conv_in.bias {dtype} \(weights must be float16"):
        open_model(folder)


@pytest.mark.parametrize("entry", ["CLIPTextModel", ["transformers"], 7, ["a", "b", "c"]])
def test_a_model_index_entry_that_is_not_a_pair_is_named(folder, entry):
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "text_encoder": entry}))
    with pytest.raises(CheckpointError, match="model_index.json: entry 'text_encoder' must be \\[library, class\\]"):
        open_model(folder)


def test_an_index_whose_weight_map_is_a_list_is_named(folder):
    shard_unet(folder, "x.safetensors")
    (folder / "unet" / "diffusion_pytorch_model.safetensors.index.json").write_text('{"weight_map": [1, 2]}')
    with pytest.raises(CheckpointError, match="index.json: weight_map must be an object"):
        open_model(folder)


def test_a_scaling_factor_of_infinity_is_refused(folder):
    config = json.loads((folder / "vae" / "config.json").read_text())
    (folder / "vae" / "config.json").write_text(json.dumps({**config, "scaling_factor": float("inf")}))
    with pytest.raises(CheckpointError, match="vae/config.json: scaling_factor must be a finite number"):
        open_model(folder)


def test_a_small_file_with_sd1_names_is_refused_before_any_network_is_built(sd1_folder, tmp_path, monkeypatch):
    import pixeldrift.pretrained.single_file as single_file

    monkeypatch.setattr(single_file, "build_checked", lambda *a: pytest.fail("a real network was built"))
    path = tmp_path / "small.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(32, 4, 3, 3),
               "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": torch.zeros(77, 32)},
              path)
    with pytest.raises(CheckpointError, match="small.safetensors.*(incomplete|does not fit)"):
        open_model(path, config=sd1_folder)
