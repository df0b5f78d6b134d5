"""Textual inversion on tiny random Stable Diffusion models (SD 1.x, 2.x-v, SDXL): only the new word's rows
train, they lower the loss on a fixed batch, and the file (A1111's safetensors layout) loads back in pixeldrift's
loader and changes the generation of a prompt with the word and not of one without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).parents[1] / "pretrained"))
from tiny_sd_models import make_sd1  # noqa: E402
from test_sd_lora_training import BUILD, images, lowers_the_fixed_loss  # noqa: E402

from pixeldrift.pipeline.request import GenerationRequest  # noqa: E402
from pixeldrift.pretrained import open_model  # noqa: E402
from pixeldrift.train.sd_textual_inversion import train_sd_textual_inversion  # noqa: E402
from pixeldrift.train.trainer import TrainerConfig  # noqa: E402

pytest.importorskip("diffusers")
CONFIG = TrainerConfig(steps=2, batch_size=2, learning_rate=1e-2, warmup_steps=1, checkpoint_every=2, log_every=1,
                       ema_decay=0.5)


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def captioned(folder: Path, side: int) -> Path:
    images(folder, side)
    for caption in folder.glob("*.txt"):
        caption.write_text(caption.read_text().replace("cat", "sks cat"))
    return folder


def latents(model, prompt: str) -> torch.Tensor:
    side = model.limits.default_width
    return model.sample_latents([prompt], [5], GenerationRequest(prompt=prompt, width=side, height=side, steps=2))[0]


@pytest.mark.parametrize("family", list(BUILD))
def test_only_the_word_trains_and_its_file_loads_back_changing_prompts_with_the_word(family, tmp_path):
    folder = BUILD[family](tmp_path / family)
    side = open_model(folder).limits.default_width
    path = tmp_path / "sks.safetensors"
    trainer = train_sd_textual_inversion(tmp_path / "run", CONFIG, folder, captioned(tmp_path / "data", side), "sks",
                                         vectors=2, init_word="cat", export=path)
    trained = [name for name, p in trainer.model.named_parameters() if p.requires_grad]
    assert trained and all(name.endswith("token_embedding.new") for name in trained)
    assert len(trained) == len(trainer.model.prompt_encoder.text_encoders)
    plain = open_model(folder)
    frozen = dict(trainer.model.sd.named_parameters())
    for name, parameter in plain.named_parameters():  # the base, bit for bit (the tables now sit in .table)
        assert torch.equal(parameter, frozen.get(name, frozen.get(name.replace("token_embedding.",
                                                                                "token_embedding.table.")))), name
    assert lowers_the_fixed_loss(trainer, [p for p in trainer.model.parameters() if p.requires_grad])

    keys = ["clip_l", "clip_g"] if family == "sdxl" else ["emb_params"]
    with safe_open(path, "pt") as file:
        assert sorted(file.keys()) == sorted(keys)
        shipped = trainer.ema.model.sd.prompt_encoder.word_rows("sks")
        assert all(torch.equal(file.get_tensor(key), row) for key, row in zip(keys, shipped))
    with_word, without = latents(plain, "a photo of sks"), latents(plain, "a photo of a cat")
    assert plain.load_embedding(path) == "sks"
    assert not torch.equal(latents(plain, "a photo of sks"), with_word)
    assert torch.equal(latents(plain, "a photo of a cat"), without)


def test_train_textual_inversion_on_a_stable_diffusion_folder_from_the_command_line(tmp_path, capsys):
    from pixeldrift.cli.main import run

    folder = make_sd1(tmp_path / "sd1")
    data = captioned(tmp_path / "data", open_model(folder).limits.default_width)
    common = ["train", "textual-inversion", "--base", str(folder), "--data", str(data), "--steps", "1",
              "--batch-size", "2", "--warmup", "0", "--init-word", "cat"]
    path = tmp_path / "word.safetensors"
    assert run([*common, "--vectors", "3", "--out", str(tmp_path / "run"), "--export", str(path)]) == 0
    assert "the word of word.safetensors will be 'word'" in capsys.readouterr().out
    with safe_open(path, "pt") as file:
        assert file.get_tensor("emb_params").shape == (3, 32)
    assert run([*common, "--sample-every", "1", "--out", str(tmp_path / "run2")]) == 2
    (data / "0.txt").write_text("a cat")
    assert run([*common, "--out", str(tmp_path / "run3"), "--check"]) == 1
    assert "does not name 'sks'" in capsys.readouterr().err
