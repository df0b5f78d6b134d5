"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test on one torch thread, then restore the caller's setting.

    Test networks are tiny and gain little from a second thread, while on a shared
    2-core machine a busy neighbour stalls 2-thread OpenMP regions (spin-waiting) by
    up to 100x; one thread keeps run times predictable. Folders opt in from their
    conftest.py with an autouse fixture that requests this one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory):
    """A tiny model folder (32 px) whose denoiser has random weights everywhere, zero-initialised layers
    included, so that its output, and any ControlNet's effect on it, is not zero."""
    from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE_PRESETS
    from pixeldrift.pipeline import ModelConfig, TextToImage, save_model

    torch.manual_seed(0)
    config = ModelConfig(name="tiny-random", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=UNET_PRESETS["tiny"], vae=VAE_PRESETS["tiny"])
    model = TextToImage(config)
    for parameter in model.denoiser.net.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    return save_model(model, tmp_path_factory.mktemp("models") / "tiny-random")
