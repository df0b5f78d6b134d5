"""A tiny random model saved as a model folder, shared by the pipeline tests."""

import pytest
import torch

from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE_PRESETS
from pixeldrift.pipeline import ModelConfig, TextToImage, load_model, save_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = ModelConfig(name="tiny-test", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=UNET_PRESETS["tiny"], vae=VAE_PRESETS["tiny"])
    return save_model(TextToImage(config), tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_model(model_dir):
    return load_model(model_dir)
