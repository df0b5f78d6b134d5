"""Personalisation end to end on tiny models: LoRA, DreamBooth and textual inversion train what they should
and nothing else (the base bit for bit), lower the loss, export files that load back, and resume."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from pixeldrift.nets import UNET_PRESETS, VAE_PRESETS
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoderConfig
from pixeldrift.pipeline import GenerationRequest, ModelConfig, TextToImage, load_model, save_model
from pixeldrift.pipeline.adapter_files import read_embedding
from pixeldrift.train.dreambooth import SubjectAndClass, dreambooth_trainer, train_dreambooth
from pixeldrift.train.lora import LoRASettings, lora_trainer, train_lora
from pixeldrift.train.textual_inversion import inversion_trainer, train_textual_inversion
from pixeldrift.train.trainer import BatchNoise, TrainerConfig

REQUEST = GenerationRequest("a sks shape", steps=3, seed=1, width=32, height=32, sampler="euler")


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def minilm_model_dir(tmp_path_factory):
    """A tiny random model on the MiniLM text encoder (textual inversion needs its vocabulary)."""
    torch.manual_seed(0)
    config = ModelConfig(name="tiny-minilm", image_size=32, text_encoder=MiniLMTextEncoderConfig(),
                         denoiser=replace(UNET_PRESETS["tiny"], context_dim=384), vae=VAE_PRESETS["tiny"])
    model = TextToImage(config)
    for parameter in model.denoiser.net.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    return save_model(model, tmp_path_factory.mktemp("models") / "tiny-minilm")


@pytest.fixture(scope="module")
def subject(tmp_path_factory):
    """Three images of one subject (a square in a corner), captioned in .txt files."""
    folder = tmp_path_factory.mktemp("subject")
    for index, colour in enumerate([(200, 30, 30), (30, 30, 200), (30, 160, 30)]):
        pixels = np.full((32, 32, 3), 240, np.uint8)
        pixels[4 + 3 * index:16 + 3 * index, 6:18] = colour
        Image.fromarray(pixels).save(folder / f"{index}.png")
        (folder / f"{index}.txt").write_text(f"a {['red', 'blue', 'green'][index]} sks shape")
    return folder


def config(**overrides) -> TrainerConfig:
    return TrainerConfig(**{**dict(steps=2, batch_size=4, learning_rate=1e-2, warmup_steps=1, checkpoint_every=1,
                                   log_every=1, ema_decay=0.5), **overrides})


def fixed_loss(trainer) -> torch.Tensor:
    """The training loss on one fixed batch with fixed noise."""
    images, captions = trainer.data.batch([0, 1, 2, 3])
    noise = BatchNoise(torch.Generator().manual_seed(7), slice(0, 4), 4, torch.device("cpu"))
    return trainer.model(images, captions, noise).mean()


def frozen_state(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}


def test_lora_trains_the_adapters_alone_and_they_lower_the_loss(random_model_dir, subject, tmp_path):
    trainer = lora_trainer(tmp_path / "run", config(steps=3), random_model_dir, subject,
                           LoRASettings(rank=2, alpha=2.0, convolutions=True))
    model = trainer.model.model
    frozen = frozen_state(model)
    adapters = [p for name, p in model.named_parameters() if p.requires_grad]
    assert adapters and all(name.endswith((".down.weight", ".up.weight"))
                            for name, p in model.named_parameters() if p.requires_grad)
    trainer.fit()
    assert all(torch.equal(frozen[name], p) for name, p in model.named_parameters() if name in frozen)
    assert all(".down." in key or ".up." in key or key.startswith("optimizer") for key in trainer.state()[0])
    optimizer = torch.optim.Adam(adapters, lr=5e-2)  # a few more steps on one batch: its loss falls
    before = fixed_loss(trainer).item()
    for _ in range(12):
        optimizer.zero_grad()
        fixed_loss(trainer).backward()
        optimizer.step()
    assert fixed_loss(trainer).item() < 0.95 * before
    assert all(torch.equal(frozen[name], p) for name, p in model.named_parameters() if name in frozen)


def test_an_exported_lora_merges_into_the_base_as_trained_and_unloads_bit_for_bit(random_model_dir, subject,
                                                                                   tmp_path):
    trainer = train_lora(tmp_path / "run", config(steps=3), random_model_dir, subject,
                         LoRASettings(rank=2, alpha=4.0, text_encoder=True), export=tmp_path / "sks.safetensors")
    adapted = trainer.ema.model.model.generate(REQUEST)[0].image
    model = load_model(random_model_dir)
    plain = model.generate(REQUEST)[0].image
    model.load_lora(tmp_path / "sks.safetensors", 1.0)
    merged = model.generate(REQUEST)[0].image
    assert plain.tobytes() != merged.tobytes()
    assert np.abs(np.asarray(merged, float) - np.asarray(adapted, float)).max() <= 1
    model.unload_loras()
    assert model.generate(REQUEST)[0].image.tobytes() == plain.tobytes()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 load_model(random_model_dir).state_dict().values()))


def test_a_resumed_lora_run_equals_an_uninterrupted_one_and_other_settings_are_refused(random_model_dir, subject,
                                                                                     tmp_path):
    straight = train_lora(tmp_path / "straight", config(steps=4), random_model_dir, subject, LoRASettings(rank=2))
    train_lora(tmp_path / "parts", config(steps=2), random_model_dir, subject, LoRASettings(rank=2))
    resumed = train_lora(tmp_path / "parts", config(steps=4), random_model_dir, subject, LoRASettings(rank=2),
                         resume=True)
    for (name, a), b in zip(straight.state()[0].items(), resumed.state()[0].values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="other settings.*rank: 2 then, 4 now"):
        train_lora(tmp_path / "parts", config(steps=5), random_model_dir, subject, LoRASettings(rank=4), resume=True)


def test_dreambooth_pairs_each_subject_image_with_a_class_image_the_base_drew(random_model_dir, subject, tmp_path):
    trainer = dreambooth_trainer(tmp_path / "run", config(steps=2), random_model_dir, subject, "sks",
                                 class_images=4)
    assert isinstance(trainer.data, SubjectAndClass)
    _, captions = trainer.data.batch([0, 1, 2, 3])
    assert ["sks" in c.split() for c in captions] == [True, False, True, False]
    assert set(captions[1::2]) <= {"a red shape", "a blue shape", "a green shape"}
    assert len(list((tmp_path / "run" / "class-images").glob("*.png"))) == 4
    trainer.model.prior_weight = 0.0  # the class rows weigh lambda: at 0 they add nothing
    images, captions = trainer.data.batch([0, 1])
    noise = BatchNoise(torch.Generator().manual_seed(0), slice(0, 2), 2, torch.device("cpu"))
    assert trainer.model(images, captions, noise)[1].item() == 0.0


def test_dreambooth_preserves_given_class_images_and_draws_none(random_model_dir, subject, tmp_path):
    given = tmp_path / "regularisation"
    given.mkdir()
    for index, caption in enumerate(["two red circles", "a blue square above a green circle"]):
        (given / f"{index}.png").write_bytes((subject / f"{index}.png").read_bytes())
        (given / f"{index}.txt").write_text(caption)
    trainer = dreambooth_trainer(tmp_path / "run", config(), random_model_dir, subject, "sks", class_data=given)
    _, captions = trainer.data.batch([0, 1, 2, 3])
    assert sorted(captions[1::2]) == ["a blue square above a green circle", "two red circles"]
    assert not (tmp_path / "run" / "class-images").exists()
    (given / "1.txt").write_text("a blue sks shape")
    with pytest.raises(ValueError, match=r"1 captions with the identifier 'sks': .*1.png: the caption 'a blue sks "
                                         r"shape' names 'sks'"):
        dreambooth_trainer(tmp_path / "run2", config(), random_model_dir, subject, "sks", class_data=given)
    with pytest.raises(ValueError, match="class images are for prior preservation"):
        train_dreambooth(tmp_path / "run3", config(), random_model_dir, subject, "sks", prior=False,
                         class_data=given)


def test_dreambooth_fine_tunes_the_denoiser_alone_and_exports_a_model_folder(random_model_dir, subject, tmp_path):
    trainer = train_dreambooth(tmp_path / "run", config(steps=3), random_model_dir, subject, "sks", prior=False,
                               export=tmp_path / "db")
    model = trainer.model.model
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"denoiser"}
    tuned = load_model(tmp_path / "db")
    assert tuned.name == "tiny-random-dreambooth"
    base = load_model(random_model_dir)
    assert tuned.generate(REQUEST)[0].image.tobytes() != base.generate(REQUEST)[0].image.tobytes()
    with pytest.raises(ValueError, match="written as a .safetensors file"):
        train_dreambooth(tmp_path / "run2", config(), random_model_dir, subject, "sks", lora=LoRASettings(),
                         export=tmp_path / "db2")


def test_captions_without_the_identifier_are_named(random_model_dir, subject, tmp_path):
    with pytest.raises(ValueError, match=r"1 captions without the identifier 'zzq': .*0.png: the caption 'a red sks"):
        folder = tmp_path / "mixed"
        folder.mkdir()
        for name in ("0.png", "1.png"):
            (folder / name).write_bytes((subject / name).read_bytes())
        (folder / "0.txt").write_text("a red sks shape")
        (folder / "1.txt").write_text("a blue zzq shape")
        dreambooth_trainer(tmp_path / "run", config(), random_model_dir, folder, "zzq", prior=False)


def test_textual_inversion_trains_the_new_row_alone_and_its_file_holds_it_alone(minilm_model_dir, subject,
                                                                                tmp_path):
    trainer = inversion_trainer(tmp_path / "run", config(steps=4, learning_rate=5e-2), minilm_model_dir, subject,
                                "sks", init_word="shape")
    model = trainer.model.model
    encoder = model.text_encoder
    frozen = frozen_state(model)
    start = encoder.model.embeddings.word.new.detach().clone()
    assert torch.equal(start[0], encoder.token_embedding("shape"))
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["text_encoder.model.embeddings.word.new"]
    trainer.fit()
    assert not torch.equal(start, encoder.model.embeddings.word.new)
    assert all(torch.equal(frozen[name], p) for name, p in model.named_parameters() if name in frozen)
    path = tmp_path / "learned.safetensors"
    train_textual_inversion(tmp_path / "run", config(steps=5, learning_rate=5e-2), minilm_model_dir, subject, "sks",
                            export=path, resume=True)
    token, vector = read_embedding(path)
    assert token == "sks" and vector.shape == (384,) and path.stat().st_size < 3000
    fresh = load_model(minilm_model_dir)
    other = GenerationRequest("a red shape", steps=3, seed=1, width=32, height=32)
    before, unused = fresh.generate(REQUEST)[0].image, fresh.generate(other)[0].image
    assert fresh.load_embedding(path) == "sks"
    assert fresh.generate(REQUEST)[0].image.tobytes() != before.tobytes()
    assert fresh.generate(other)[0].image.tobytes() == unused.tobytes()  # the word unused: the base exactly
