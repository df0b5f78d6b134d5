"""SD ControlNet files: a single file equals its folder; the names are the real ones; bad files are refused."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.control import Control
from pixeldrift.pretrained import CheckpointError, open_controlnet, open_model
from pixeldrift.pretrained.controlnet_names import from_original
from tiny_sd_models import controlnet_single_file, final_pixels, original_controlnet_name, to_single_file

MAP = Image.fromarray(np.random.default_rng(4).integers(0, 255, (32, 32, 3), dtype=np.uint8))


def request(*controls) -> GenerationRequest:
    return GenerationRequest("a cat", steps=3, seed=5, width=32, height=32, controls=tuple(controls))


@pytest.mark.parametrize("original_names", [True, False])
def test_a_single_file_equals_its_folder(sd1_folder, sd1_controlnet, tmp_path, original_names):
    """lllyasviel's names (control_model.*) or diffusers' in one file: the same weights, the same image."""
    model = open_model(sd1_folder)
    path = controlnet_single_file(sd1_controlnet, tmp_path / "control.safetensors", original_names)
    folder, single = open_controlnet(sd1_controlnet, base=model), open_controlnet(path, base=model)
    expected, loaded = folder.net.state_dict(), single.net.state_dict()
    assert expected.keys() == loaded.keys() and all(torch.equal(expected[k], loaded[k]) for k in expected)
    a = final_pixels(model, request(Control(folder, MAP, 0.9)))
    b = final_pixels(model, request(Control(single, MAP, 0.9)))
    assert torch.equal(a, b) and single.name == "control"


def test_original_names_are_those_diffusers_converts(sd1_controlnet):
    """On SD 1.5's real ControlNet architecture (built on the meta device), the original names written by the
    tests are those diffusers' own converter maps back, and our loader maps them back the same way."""
    from diffusers import ControlNetModel
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

    from pixeldrift.pretrained.presets import PRESETS

    config = {**PRESETS["sd1"]["unet"], "conditioning_embedding_out_channels": [16, 32, 96, 256]}
    config = {k: v for k, v in config.items() if k not in ("out_channels", "up_block_types", "sample_size")}
    with torch.device("meta"):
        net = ControlNetModel(**config)
    ours = net.state_dict()
    original = {original_controlnet_name(k, dict(net.config)): v for k, v in ours.items()}
    theirs = convert_controlnet_checkpoint(original, dict(net.config))
    assert set(theirs) == set(ours)
    renamed = from_original(original)
    assert renamed.keys() == ours.keys() and all(renamed[k] is v for k, v in ours.items())


def test_a_folder_opens_without_a_base_and_is_checked_when_used(sd1_folder, sd1_controlnet, sdxl_folder):
    controlnet = open_controlnet(sd1_controlnet)
    assert controlnet.net.controlnet.dtype == torch.float32
    sdxl = open_model(sdxl_folder)
    with pytest.raises(ValueError, match=r"is for an unknown family \(cross-attention width 32\) but the model "
                                         r"'tiny-sdxl' is sdxl \(cross-attention width 48\)"):
        sdxl.generate(replace(request(Control(controlnet, MAP.resize((64, 64)))), width=64, height=64))


def test_a_controlnet_for_another_family_is_refused_naming_both(sd1_folder, sdxl_controlnet, tmp_path):
    """An SDXL ControlNet on an SD 1.x model: refused on opening, folder or single file, before any building."""
    model = open_model(sd1_folder)
    single = controlnet_single_file(sdxl_controlnet, tmp_path / "xl.safetensors")
    for path in (sdxl_controlnet, single):
        with pytest.raises(CheckpointError, match=r"is for sdxl \(cross-attention width 48\) but the model "
                                                  r"'tiny-sd1' is sd1 \(cross-attention width 32\)"):
            open_controlnet(path, base=model)


def test_sd_and_pixeldrift_controlnets_stay_with_their_own_models(sd1_folder, sd1_controlnet, random_model_dir):
    ours = load_model(random_model_dir)
    controlnet = open_controlnet(sd1_controlnet)
    with pytest.raises(ValueError, match="steers Stable Diffusion .* 'tiny-random' is a pixeldrift model"):
        ours.generate(request(Control(controlnet, MAP)))


def test_a_map_of_another_size_is_refused_unless_resizing_is_asked(sd1_folder, sd1_controlnet):
    model = open_model(sd1_folder)
    controlnet = open_controlnet(sd1_controlnet, base=model)
    small = MAP.resize((24, 24))
    with pytest.raises(ValueError, match="control 1: the control image is 24x24 but the image to generate is "
                                         "32x32; give a map of that size, or ask for it to be resized"):
        model.generate(request(Control(controlnet, small)))
    assert model.generate(request(Control(controlnet, small, resize=True)))[0].image.size == (32, 32)


def test_the_record_names_each_controlnet(sd1_folder, sd1_controlnet):
    model = open_model(sd1_folder)
    controlnet = open_controlnet(sd1_controlnet, base=model)
    record = model.generate(request(Control(controlnet, MAP, 0.5, module="canny")))[0].record
    assert record.extra["ControlNet 0"] == ("Module: canny, Model: tiny-controlnet-sd1, Weight: 0.5, "
                                            "Guidance Start: 0, Guidance End: 1")


# ----- files that are not what they say ------------------------------------------------------

def test_pickles_are_never_read(sd1_controlnet, tmp_path):
    pickle = tmp_path / "control_sd15_canny.pth"
    torch.save({"a": torch.zeros(1)}, pickle)
    with pytest.raises(CheckpointError, match="pickle can run code"):
        open_controlnet(pickle)
    folder = tmp_path / "bin-only"
    folder.mkdir()
    shutil.copy(sd1_controlnet / "config.json", folder / "config.json")
    torch.save({"a": torch.zeros(1)}, folder / "diffusion_pytorch_model.bin")
    with pytest.raises(CheckpointError, match="a pickle; only safetensors"):
        open_controlnet(folder)


def test_a_truncated_file_is_refused_on_its_header(sd1_controlnet, tmp_path):
    path = controlnet_single_file(sd1_controlnet, tmp_path / "cut.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors"):
        open_controlnet(path)


def test_files_that_are_not_controlnets_are_named(sd1_folder, sd1_controlnet, tmp_path):
    with pytest.raises(CheckpointError, match="not a ControlNet .it has no hint encoder"):
        open_controlnet(to_single_file(sd1_folder, tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="a whole diffusers model, not a ControlNet"):
        open_controlnet(sd1_folder)
    with pytest.raises(CheckpointError, match="describes a 'UNet2DConditionModel', not a ControlNetModel"):
        open_controlnet(sd1_folder / "unet")


def test_a_file_with_stray_tensors_is_refused_naming_them(sd1_controlnet, tmp_path):
    from safetensors.torch import load_file, save_file

    path = controlnet_single_file(sd1_controlnet, tmp_path / "stray.safetensors")
    tensors = load_file(path)
    tensors["control_model.lora_up.weight"] = torch.zeros(2)
    save_file(tensors, path)
    with pytest.raises(CheckpointError, match=r"not in the original ControlNet layout \(1 tensor\(s\) are not "
                                              "ControlNet layers, e.g. lora_up.weight"):
        open_controlnet(path)


def test_a_huge_config_is_refused_before_building(sd1_controlnet, tmp_path):
    folder = tmp_path / "huge"
    shutil.copytree(sd1_controlnet, folder)
    config = json.loads((folder / "config.json").read_text())
    config["conditioning_embedding_out_channels"] = [16, 10**9]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="conditioning_embedding_out_channels"):
        open_controlnet(folder)


@pytest.mark.parametrize("family,lighter", [("sd1", {}), ("sd2", {}), ("sdxl", {}),
                                            ("sdxl", {"transformer_layers_per_block": [0, 0, 1]})])
def test_the_full_size_architectures_are_read_from_their_tensors(family, lighter, tmp_path):
    """On the meta device, SD 1.5, SD 2.1 and SDXL ControlNets, and a lighter SDXL one (attention shells
    without transformer blocks, as in the smaller SDXL ControlNets): the config read from the tensors' names
    and shapes (diffusers' names, and for SD 1.x/2.x the original ones) builds a network of the same shapes."""
    from diffusers import ControlNetModel

    from pixeldrift.pretrained.controlnet_files import _unet_config, architecture
    from pixeldrift.pretrained.presets import PRESETS

    unet = {**PRESETS[family]["unet"], **lighter}
    with torch.device("meta"):
        net = ControlNetModel(**{k: v for k, v in unet.items() if k not in ("out_channels", "up_block_types",
                                                                               "sample_size")})
    tensors = net.state_dict()
    layouts = [tensors] if family == "sdxl" else \
        [tensors, from_original({original_controlnet_name(k, dict(net.config)): v for k, v in tensors.items()})]
    for named in layouts:
        config = architecture(named, _unet_config(named, None, tmp_path), tmp_path)
        with torch.device("meta"):
            rebuilt = ControlNetModel.from_config(config).state_dict()
        assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in tensors.items()}


def test_generate_takes_an_sd_controlnet(sd1_folder, sd1_controlnet, tmp_path):
    """`pixeldrift generate --model SD --control CONTROLNET --control-image MAP`; the PNG names the ControlNet."""
    from click.testing import CliRunner

    from pixeldrift.cli.main import cli
    from pixeldrift.provenance.label import read_labels

    MAP.save(tmp_path / "map.png")
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["generate", "a cat", "--model", str(sd1_folder), "--steps", "2", "--size", "32",
                                      "--control", str(sd1_controlnet), "--control-image", str(tmp_path / "map.png"),
                                      "--control-strength", "0.6", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Model: tiny-controlnet-sd1, Weight: 0.6" in read_labels(out.read_bytes()).parameters
