"""A single file with the original key names opens to the same model, and the same image, as its folder."""

import pytest
import torch
from PIL import ImageChops

from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pretrained import open_model
from tiny_sd_models import to_single_file


@pytest.mark.parametrize("kind", ["sd1", "sdxl"])
def test_single_file_gives_the_folder_image(kind, request, tmp_path):
    folder = request.getfixturevalue(f"{kind}_folder")
    single = to_single_file(folder, tmp_path / f"{kind}.safetensors")
    from_folder, from_file = open_model(folder), open_model(single, config=folder)
    assert from_file.family == from_folder.family and from_file.family.base == kind
    ours = from_folder.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in from_file.state_dict().items())
    size = 32 if kind == "sd1" else 64
    r = GenerationRequest("a red cat", steps=3, seed=3, width=size, height=size)
    a, b = from_folder.generate(r)[0].image, from_file.generate(r)[0].image
    assert ImageChops.difference(a, b).getbbox() is None


def test_single_file_family_override_must_agree(sd1_folder, tmp_path):
    single = to_single_file(sd1_folder, tmp_path / "sd1.safetensors")
    with pytest.raises(ValueError, match="sdxl.*sd1 model"):
        open_model(single, family="sdxl", config=sd1_folder)
    assert open_model(single, family="sd1", config=sd1_folder).family.name == "sd1"


def test_pickle_checkpoint_loads_with_a_warning(sd1_folder, tmp_path):
    from safetensors.torch import load_file

    single = to_single_file(sd1_folder, tmp_path / "sd1.safetensors")
    ckpt = tmp_path / "sd1.ckpt"
    torch.save({"state_dict": load_file(single)}, ckpt)
    with pytest.warns(UserWarning, match="safetensors"):
        model = open_model(ckpt, config=sd1_folder)
    reference = open_model(sd1_folder).state_dict()
    assert all(torch.equal(reference[k], v) for k, v in model.state_dict().items())
