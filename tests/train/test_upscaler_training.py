"""Upscaler training on a tiny network: the loss is the denoising loss on the high-res crop given the low-res one,
training lowers it on a fixed batch, and a run resumes exactly and refuses a resume with another crop or network."""

from __future__ import annotations

import math

import pytest
import torch

from pixeldrift.data.upscale_stream import UpscaleStream
from pixeldrift.nets.upscaler import UPSCALER_PRESETS
from pixeldrift.pipeline.upscaler import Upscaler, UpscalerConfig
from pixeldrift.train.trainer import BatchNoise, TrainerConfig
from pixeldrift.train.upscaler import UpscalerTraining, train_upscaler, upscaler_trainer

TINY = UpscalerConfig(unet=UPSCALER_PRESETS["tiny"], factor=4, low_res_size=8)  # 8 -> 32 px


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def _noise(seed: int = 0, batch: int = 4) -> BatchNoise:
    return BatchNoise(torch.Generator().manual_seed(seed), slice(0, batch), batch, torch.device("cpu"))


def _config(**overrides) -> TrainerConfig:
    return TrainerConfig(**{**dict(steps=2, batch_size=2, learning_rate=1e-2, warmup_steps=1, checkpoint_every=1,
                                   log_every=1, ema_decay=0.5), **overrides})


def test_the_denoiser_sees_the_low_res_crop_and_is_scored_on_the_high_res_one():
    torch.manual_seed(0)
    module = UpscalerTraining(Upscaler(TINY))
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.05)
    pairs, captions = UpscaleStream(size=32, crop=16).batch([0, 1, 2, 3])
    seen = []
    net_forward = module.model.denoiser.net.forward
    module.model.denoiser.net.forward = lambda x, level, low_res: seen.append(low_res) or net_forward(x, level, low_res)
    loss = module(pairs, captions, _noise())
    assert loss.shape == (4,) and torch.equal(seen[0], pairs[:, 3:])
    spoiled = pairs.clone()
    spoiled[:, :3] += 0.5  # another target, the same condition: another loss
    assert not torch.allclose(module(spoiled, captions, _noise()), loss)


def test_training_steps_lower_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    module = UpscalerTraining(Upscaler(TINY))
    pairs, captions = UpscaleStream(size=32, crop=16).batch(list(range(8)))
    optimiser = torch.optim.Adam(module.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = module(pairs, captions, _noise(batch=8)).mean()  # the same noise every step: one fixed problem
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path):
    torch.manual_seed(0)
    whole = upscaler_trainer(tmp_path / "whole", _config(steps=3), TINY, crop=16)
    whole.fit()
    torch.manual_seed(0)
    first = upscaler_trainer(tmp_path / "parts", _config(steps=3), TINY, crop=16)
    first.fit(until=2)
    second = upscaler_trainer(tmp_path / "parts", _config(steps=3), TINY, crop=16)
    second.resume()
    second.fit()
    for (name, a), b in zip(whole.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_resume_with_another_crop_or_network_is_refused(tmp_path):
    before = train_upscaler(tmp_path / "run", _config(steps=1), TINY, crop=16)
    assert before.config == TINY
    with pytest.raises(ValueError, match="crop: 16 then, 32 now"):
        train_upscaler(tmp_path / "run", _config(steps=2), TINY, crop=32, resume=True)
    other = UpscalerConfig(unet=UPSCALER_PRESETS["small"], factor=4, low_res_size=8)
    with pytest.raises(ValueError, match="upscaler"):
        train_upscaler(tmp_path / "run", _config(steps=2), other, crop=16, resume=True)


@pytest.mark.parametrize("sigma_data", [0.15, 0.5])
def test_noise_levels_are_edms_moved_with_the_scale_of_what_is_predicted(sigma_data):
    module = UpscalerTraining(Upscaler(UpscalerConfig(**{**TINY.__dict__, "sigma_data": sigma_data})))
    log_sigma = module.draw_sigma(20_000, torch.Generator().manual_seed(0)).log()
    assert log_sigma.mean().item() == pytest.approx(-1.2 + math.log(sigma_data / 0.5), abs=0.03)
    assert log_sigma.std().item() == pytest.approx(1.2, abs=0.03)
