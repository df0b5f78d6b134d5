"""LoRA training on tiny random Stable Diffusion models (SD 1.x, 2.x-v, SDXL): only the adapters train, they lower
the loss, and the kohya-layout file loads back in pixeldrift's loader and in diffusers' load_lora_weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1] / "pretrained"))
from tiny_sd_models import make_sd1, make_sdxl  # noqa: E402

from pixeldrift.pretrained import open_model  # noqa: E402
from pixeldrift.train.sd_lora import train_sd_lora, unet_attention_projections  # noqa: E402
from pixeldrift.train.trainer import BatchNoise, TrainerConfig  # noqa: E402

pytest.importorskip("diffusers")
BUILD = {"sd1": lambda folder: make_sd1(folder), "sd2v": lambda folder: make_sd1(folder, 3, "v_prediction"),
         "sdxl": lambda folder: make_sdxl(folder)}


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def images(folder: Path, side: int) -> Path:
    folder.mkdir()
    for index in range(2):
        pixels = np.full((side, side, 3), 230, np.uint8)
        pixels[4 + 4 * index:side // 2, 4:side // 2] = (200, 40 * index, 30)
        Image.fromarray(pixels).save(folder / f"{index}.png")
        (folder / f"{index}.txt").write_text(f"a cat {index}")
    return folder


def fixed_loss(trainer) -> torch.Tensor:
    pictures, captions = trainer.data.batch([0, 1])
    return trainer.model(pictures, captions, BatchNoise(torch.Generator().manual_seed(3), slice(0, 2), 2,
                                                        torch.device("cpu"))).mean()


def lowers_the_fixed_loss(trainer, parameters) -> bool:
    """Whether 8 Adam steps on `parameters` alone lower the loss of a fixed batch."""
    optimizer = torch.optim.Adam(parameters, lr=3e-2)
    before = fixed_loss(trainer).item()
    for _ in range(8):
        optimizer.zero_grad()
        fixed_loss(trainer).backward()
        optimizer.step()
    return fixed_loss(trainer).item() < before


@pytest.mark.parametrize("family", list(BUILD))
def test_lora_trains_and_its_file_loads_in_pixeldrift_and_diffusers(family, tmp_path):
    folder = BUILD[family](tmp_path / family)
    side = open_model(folder).limits.default_width
    config = TrainerConfig(steps=2, batch_size=2, learning_rate=1e-2, warmup_steps=1, checkpoint_every=2,
                           log_every=1, ema_decay=0.5)
    path = tmp_path / "style.safetensors"
    trainer = train_sd_lora(tmp_path / "run", config, folder, images(tmp_path / "data", side), rank=2, alpha=2.0,
                            export=path)
    model = trainer.model.sd
    adapters = [p for p in model.parameters() if p.requires_grad]
    assert adapters and all(n.endswith((".down.weight", ".up.weight"))
                            for n, p in model.named_parameters() if p.requires_grad)
    plain = open_model(folder)
    ours = {n: p for n, p in model.named_parameters() if not p.requires_grad}
    for name, parameter in plain.named_parameters():  # the base, bit for bit (its layers now sit in .base)
        adapted = name.replace(".weight", ".base.weight").replace(".bias", ".base.bias")
        assert torch.equal(parameter, ours.get(name, ours.get(adapted))), name
    assert lowers_the_fixed_loss(trainer, adapters)

    loaded = open_model(folder)
    loaded.load_lora(path)  # pixeldrift's loader: every adapted layer now equals the trained one merged
    shipped = trainer.ema.model.sd.unet
    names = unet_attention_projections(loaded.unet)
    x = torch.randn(3, loaded.unet.get_submodule(names[0]).in_features)
    for name in names:
        layer = loaded.unet.get_submodule(name)
        x = torch.randn(3, layer.in_features)
        assert torch.allclose(layer(x), shipped.get_submodule(name)(x), atol=1e-5), name

    from diffusers import DiffusionPipeline  # diffusers' own loader reads the kohya layout
    pipe = DiffusionPipeline.from_pretrained(folder)
    pipe.load_lora_weights(str(path))
    for name in names:
        x = torch.randn(3, loaded.unet.get_submodule(name).in_features)
        theirs = pipe.unet.get_submodule(name)(x)
        assert torch.allclose(theirs, loaded.unet.get_submodule(name)(x), atol=1e-5), name


def test_train_lora_on_a_stable_diffusion_folder_from_the_command_line(tmp_path):
    from pixeldrift.cli.main import run

    folder = make_sd1(tmp_path / "sd1")
    data = images(tmp_path / "data", open_model(folder).limits.default_width)
    path = tmp_path / "cli.safetensors"
    code = run(["train", "lora", "--base", str(folder), "--data", str(data), "--steps", "1", "--batch-size", "2",
                "--warmup", "0", "--rank", "2", "--out", str(tmp_path / "run"), "--export", str(path)])
    assert code == 0 and path.is_file()
    assert run(["train", "lora", "--base", str(folder), "--data", str(data), "--convolutions",
                "--out", str(tmp_path / "run2")]) == 2
