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


@pytest.fixture(scope="session")
def acting_controlnet_dir(random_model_dir, tmp_path_factory):
    """A layout ControlNet folder for random_model_dir whose zero convolutions are not zero, so it acts."""
    from pixeldrift.pipeline import load_model
    from pixeldrift.pipeline.controlnet_folder import base_record, new_controlnet, save_controlnet

    model = load_model(random_model_dir)
    net, generator = new_controlnet(model), torch.Generator().manual_seed(0)
    with torch.no_grad():
        for conv in net.zero_convs:
            conv.weight.normal_(0, 0.2, generator=generator)
    return save_controlnet(net, tmp_path_factory.mktemp("controlnets") / "cn", "layout",
                           base_record(model, random_model_dir))


@pytest.fixture(scope="session")
def acting_video_dir(random_model_dir, tmp_path_factory):
    """A video model folder grown from random_model_dir whose temporal layers are random, so they act."""
    from pixeldrift.pipeline import load_model
    from pixeldrift.pipeline.video_folder import save_video_model
    from pixeldrift.pipeline.video_model import TextToVideo

    torch.manual_seed(3)
    model = TextToVideo(load_model(random_model_dir))
    for parameter in model.denoiser.net.temporal.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    return save_video_model(model, tmp_path_factory.mktemp("video") / "tiny-video", training={"test": True})


@pytest.fixture(scope="session")
def acting_upscaler_dir(tmp_path_factory):
    """A tiny upscaler folder (32 -> 64 px, float32) whose weights are random everywhere, zero-initialised layers
    included, so that its output depends on its input and noise."""
    from pixeldrift.nets.upscaler import UPSCALER_PRESETS
    from pixeldrift.pipeline.upscaler import Upscaler, UpscalerConfig
    from pixeldrift.pipeline.upscaler_folder import save_upscaler

    torch.manual_seed(0)
    model = Upscaler(UpscalerConfig(name="tiny-sr", unet=UPSCALER_PRESETS["tiny"], factor=2, low_res_size=32))
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    return save_upscaler(model, tmp_path_factory.mktemp("upscalers") / "tiny-sr", dtype="float32")
