"""A pixeldrift model folder with hostile or broken files (issue 16): one BadFileError naming the file and
the problem, before any network is built from it or any weight is read."""

import json
import shutil
import struct

import pytest

import pixeldrift.nets.io as nets_io
from pixeldrift.bounded_files import BadFileError
from pixeldrift.pipeline.model_folder import DEFAULT_MODEL_DIR, load_model


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, copy)
    return copy


def edit_config(folder, **changes):
    """Set config fields; "denoiser__base_channels" reaches into a part."""
    config = json.loads((folder / "config.json").read_text())
    for name, value in changes.items():
        part, _, field = name.partition("__")
        (config[part] if field else config)[field or part] = value
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("field, value, message", [
    ("denoiser__base_channels", 0, "base_channels must be an integer from 1"),
    ("denoiser__head_channels", 0, "head_channels must be an integer from 1"),
    ("denoiser__norm_groups", 0, "norm_groups must be an integer from 1"),
    ("denoiser__blocks_per_level", 1_000_000, "blocks_per_level must be an integer from 1 to 16"),
    ("denoiser__base_channels", -32, "base_channels must be an integer from 1"),
    ("denoiser__channel_mults", [1] * 100, "channel_mults must list 1 to 8 levels"),
    ("vae__latent_scale", float("inf"), "latent_scale .*must be a finite number"),
    ("vae__norm_groups", 0, "norm_groups must be an integer from 1"),
    ("sigma_data", 0, "sigma_data .*must be a finite number from 1e-06"),
    ("sigma_data", -1.0, "sigma_data .*must be a finite number from 1e-06"),
    ("image_size", 10**9, "image_size must be an integer from 1 to 4096"),
])
def test_a_bad_size_in_config_json_is_named(folder, field, value, message):
    edit_config(folder, **{field: value})
    with pytest.raises(BadFileError, match=f"config.json: .*{message}"):
        load_model(folder)


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', "[" * 100_000, "{no json"])
def test_config_json_that_is_not_an_object_is_named(folder, text):
    (folder / "config.json").write_text(text)
    with pytest.raises(BadFileError, match="config.json: (expected a JSON object|not valid JSON|JSON nested)"):
        load_model(folder)


def test_a_huge_config_json_is_refused_before_parsing(folder):
    (folder / "config.json").write_text(" " * (2 << 20))
    with pytest.raises(BadFileError, match=r"config.json: \d+ bytes, over the 1048576-byte limit"):
        load_model(folder)


def test_an_absurd_network_is_refused_before_it_is_built(folder):
    edit_config(folder, denoiser__base_channels=8192, denoiser__channel_mults=[16, 16, 16], denoiser__norm_groups=32,
                denoiser__head_channels=64)
    with pytest.raises(BadFileError, match=r"config.json: the config describes .* parameters, over the 5e\+09"):
        load_model(folder)


def test_a_symlink_out_of_the_folder_is_refused(folder, tmp_path):
    shutil.move(folder / "vae.safetensors", tmp_path / "vae.safetensors")
    (folder / "vae.safetensors").symlink_to(tmp_path / "vae.safetensors")
    with pytest.raises(BadFileError, match="vae.safetensors: resolves to .*outside the folder"):
        load_model(folder)


def test_a_sparse_weights_file_is_refused_on_its_header(folder, monkeypatch):
    monkeypatch.setattr(nets_io, "load_safetensors_file", lambda *a: pytest.fail("the weights were read"))
    count = 1_500_000_000
    header = json.dumps({"net.conv_in.weight": {"dtype": "F32", "shape": [count],
                                                "data_offsets": [0, 4 * count]}}).encode()
    path = folder / "denoiser.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with open(path, "r+b") as file:
        file.truncate(8 + len(header) + 4 * count)
    with pytest.raises(BadFileError, match=r"denoiser.safetensors does not match .*config.json: .*missing keys"):
        load_model(folder)
