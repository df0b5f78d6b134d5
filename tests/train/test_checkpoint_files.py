"""Checkpoints leave frozen weights out (issue 15) and a broken one is named, never a traceback (issue 16)."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from pixeldrift.bounded_files import BadFileError
from pixeldrift.data import WorldStream
from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE_PRESETS
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoderConfig
from pixeldrift.pipeline.model_folder import ModelConfig
from pixeldrift.pipeline.text_to_image import TextToImage
from pixeldrift.train.checkpoint import META_KEY
from pixeldrift.train.recipes import TextToImageTraining
from pixeldrift.train.trainer import Trainer, TrainerConfig

CONFIG = TrainerConfig(steps=3, batch_size=2, learning_rate=1e-3, warmup_steps=1, checkpoint_every=1, log_every=1,
                       ema_decay=0.9)


def minilm_training() -> TextToImageTraining:
    torch.manual_seed(0)
    denoiser = UNET_PRESETS["tiny"].__class__(**{**UNET_PRESETS["tiny"].to_dict(), "channel_mults": (1, 2),
                                                 "attention_levels": (1,), "context_dim": 384})
    config = ModelConfig(name="tiny", image_size=32, text_encoder=MiniLMTextEncoderConfig(max_length=16),
                         denoiser=denoiser, vae=VAE_PRESETS["tiny"])
    return TextToImageTraining(TextToImage(config))


def byte_training() -> TextToImageTraining:
    torch.manual_seed(0)
    config = ModelConfig(name="tiny", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=UNET_PRESETS["tiny"], vae=VAE_PRESETS["tiny"])
    return TextToImageTraining(TextToImage(config))


def trained(tmp_path, until=None, make=minilm_training) -> Trainer:
    trainer = Trainer(make(), WorldStream(seed=1, size=32), CONFIG, tmp_path)
    trainer.fit(until=until)
    return trainer


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    state = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    return {**state, **{f"ema.{k}": v for k, v in trainer.ema.model.state_dict().items()}}


def test_a_minilm_checkpoint_holds_no_frozen_weights_and_resumes_exactly(tmp_path):
    straight = trained(tmp_path / "straight")
    first = trained(tmp_path / "resumed", until=1)
    saved = load_file(first.checkpoint_path)
    assert not [k for k in saved if ".text_encoder." in k or ".vae." in k]
    assert any(".denoiser." in k for k in saved)
    second = Trainer(minilm_training(), WorldStream(seed=1, size=32), CONFIG, tmp_path / "resumed")
    second.resume()
    second.fit()
    a, b = weights(straight), weights(second)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]


def test_an_older_checkpoint_with_frozen_weights_still_resumes(tmp_path):
    first = trained(tmp_path, until=1)
    tensors = load_file(first.checkpoint_path)
    with_frozen = {**{f"model.{k}": v for k, v in first.model.state_dict().items()},
                   **{f"ema.{k}": v for k, v in first.ema.model.state_dict().items()}}
    metadata = {META_KEY: json.dumps(first.state()[1])}
    save_file({**tensors, **with_frozen}, first.checkpoint_path, metadata=metadata)
    second = Trainer(minilm_training(), WorldStream(seed=1, size=32), CONFIG, tmp_path)
    second.resume()
    assert second.step == 1


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    trainer = trained(tmp_path_factory.mktemp("run"), until=1, make=byte_training)
    return load_file(trainer.checkpoint_path), trainer.state()[1]


@pytest.mark.parametrize("damage, message", [
    (lambda t, m: (t, "{}"), "the training state's step must be an integer"),
    (lambda t, m: (t, "[1, 2]"), "the training state is a list"),
    (lambda t, m: (t, json.dumps({**m, "step": -5})), "step must be an integer from 0"),
    (lambda t, m: (t, json.dumps({**m, "optimizer": []})), "no readable optimizer state"),
    (lambda t, m: ({k: v for k, v in t.items() if not k.startswith("optimizer")}, json.dumps(m)),
     "the optimizer tensor .* is missing"),
    (lambda t, m: ({k: v for k, v in t.items() if "conv_in" not in k}, json.dumps(m)), "missing keys: .*conv_in"),
    (lambda t, m: (t, "[" * 100_000), "not valid JSON"),
])
def test_a_broken_checkpoint_is_named(tmp_path, checkpoint, damage, message):
    tensors, meta = damage(*checkpoint)
    path = tmp_path / "checkpoint.safetensors"
    save_file(tensors, path, metadata={META_KEY: meta})
    trainer = Trainer(byte_training(), WorldStream(seed=1, size=32), CONFIG, tmp_path)
    with pytest.raises(BadFileError, match=f"checkpoint.safetensors.*{message}"):
        trainer.resume()
