"""The FID feature network from a user's file: pytorch-fid's names, the converter, refusals, the CLI."""

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import save_file

from pixeldrift.bounded_files import BadFileError
from pixeldrift.cli.bench import bench
from pixeldrift.evaluate.feature_network import convert_pytorch_fid_weights, image_paths, load_feature_network
from pixeldrift.nets.fid_inception import FIDInceptionV3
from pixeldrift.nets.io import WeightsError


@pytest.fixture(autouse=True)
def _single_thread_small_input(one_thread, monkeypatch):
    """One thread (tests/conftest.py says why), and images resized to 75x75, the smallest the network
    takes, instead of 299x299: 16 times less work for the same code paths."""
    monkeypatch.setattr("pixeldrift.nets.fid_inception.INPUT_SIZE", 75)


def test_the_network_has_pytorch_fid_s_names_and_shapes():
    with torch.device("meta"):
        state = FIDInceptionV3().state_dict()
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Conv2d_4a_3x3.bn.running_var"].shape == (192,)
    assert state["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert state["Mixed_7a.branch7x7x3_4.conv.weight"].shape == (192, 192, 3, 3)
    assert state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert not any(k.startswith(("fc.", "AuxLogits.")) or k.endswith("num_batches_tracked") for k in state)
    assert len(state) == 94 * 5  # 94 conv + batch-norm units, 5 tensors each


def he_initialised() -> FIDInceptionV3:
    """Random weights that keep activations at unit scale through the 94 layers, and random statistics."""
    torch.manual_seed(0)
    network = FIDInceptionV3()
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            if name.endswith("conv.weight"):
                tensor.normal_(0, math.sqrt(2 / tensor[0].numel()))
            elif name.endswith("running_mean"):
                tensor.normal_(0, 0.1)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
    return network.eval()


@pytest.fixture(scope="module")
def pytorch_fid_file(tmp_path_factory):
    """A .pth laid out as pytorch-fid's: our tensors plus the 1008-class fc and batch-norm counters."""
    network = he_initialised()
    state = dict(network.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    state.update({k.replace("running_var", "num_batches_tracked"): torch.tensor(0)
                  for k in list(state) if k.endswith("running_var")})
    path = tmp_path_factory.mktemp("fid") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    return path, network


def image_folder(folder, values):
    folder.mkdir()
    rng = np.random.default_rng(len(values))
    for i, value in enumerate(values):
        pixels = np.clip(rng.normal(value, 40, size=(32 + 8 * i, 32, 3)), 0, 255).astype(np.uint8)  # sizes differ
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


def test_convert_then_fid_and_kid_from_the_command_line(pytorch_fid_file, tmp_path):
    source, network = pytorch_fid_file
    target = tmp_path / "fid_inception.safetensors"
    runner = CliRunner()
    converted = runner.invoke(bench, ["fid-convert", str(source), str(target)])
    assert converted.exit_code == 0, converted.output
    loaded = load_feature_network(target)
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = loaded(image)
        assert features.shape == (1, 2048) and torch.equal(features, network(image))
    real = image_folder(tmp_path / "real", [60, 120, 180])
    fake = image_folder(tmp_path / "fake", [250, 240])
    same = runner.invoke(bench, ["fid", "--real", str(real), "--fake", str(real), "--features", str(target)])
    assert same.exit_code == 0, same.output
    assert float(same.output.split("FID ")[1].split()[0]) == 0 and "3 real, 3 fake images" in same.output
    other = runner.invoke(bench, ["kid", "--real", str(real), "--fake", str(fake), "--features", str(target),
                                "--subsets", "5"])
    assert other.exit_code == 0, other.output
    assert "5 subsets of 2; 3 real, 2 fake images" in other.output and float(other.output.split("KID ")[1].split()[0]) > 0


def test_the_loader_refuses_what_is_not_the_fid_network(pytorch_fid_file, tmp_path):
    source, _ = pytorch_fid_file
    with pytest.raises(WeightsError, match="header claims .*fid-convert"):
        load_feature_network(source)  # the .pth itself: a zip, not safetensors
    other = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(WeightsError, match="does not match FIDInceptionV3: .*missing keys.*unexpected keys.*fid-convert"):
        load_feature_network(other)
    (tmp_path / "tiny.safetensors").write_bytes(b"\x01")
    with pytest.raises(WeightsError, match="too short"):
        load_feature_network(tmp_path / "tiny.safetensors")
    result = CliRunner().invoke(bench, ["fid", "--real", str(tmp_path), "--fake", str(tmp_path),
                                      "--features", str(other)])
    assert result.exit_code == 1 and "0 images; FID and KID need at least 2" in result.output


class NotWeights:
    pass


def test_the_converter_runs_no_code_and_names_what_is_wrong(tmp_path):
    pickled = tmp_path / "object.pth"
    torch.save({"x": NotWeights()}, pickled)
    with pytest.raises(BadFileError, match="not a PyTorch weights file that loads without running code"):
        convert_pytorch_fid_weights(pickled, tmp_path / "out.safetensors")
    wrong = tmp_path / "resnet.pth"
    torch.save({"layer1.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(BadFileError, match="not pytorch-fid's FID Inception-v3: .*missing keys"):
        convert_pytorch_fid_weights(wrong, tmp_path / "out.safetensors")
    with pytest.raises(BadFileError, match="no such .pth file"):
        convert_pytorch_fid_weights(tmp_path / "missing.pth", tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_image_folders_are_bounded(tmp_path):
    folder = image_folder(tmp_path / "images", [1, 2, 3])
    assert image_paths(folder, 3) == ["0.png", "1.png", "2.png"]
    with pytest.raises(ValueError, match="over 2 images; raise --max-images"):
        image_paths(folder, 2)
    result = CliRunner().invoke(bench, ["fid", "--real", str(folder), "--fake", str(folder),
                                      "--features", "x.safetensors", "--max-images", "1"])
    assert result.exit_code == 2 and "--max-images" in result.output
