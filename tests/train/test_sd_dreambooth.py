"""DreamBooth on tiny random Stable Diffusion models (SD 1.x, 2.x-v, SDXL): prior preservation on class images
the base draws, only the UNet trains, and the result written as a diffusers folder or one original-layout file
opens in pixeldrift's loader and in diffusers with the same UNet output; the LoRA route writes a kohya file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "pretrained"))
from tiny_sd_models import make_sd1  # noqa: E402
from test_sd_lora_training import BUILD  # noqa: E402
from test_sd_textual_inversion import CONFIG, captioned  # noqa: E402

from pixeldrift.pretrained import open_model  # noqa: E402
from pixeldrift.pretrained.export import save_single_file  # noqa: E402
from pixeldrift.train.dreambooth import SubjectAndClass  # noqa: E402
from pixeldrift.train.sd_dreambooth import train_sd_dreambooth  # noqa: E402
from pixeldrift.train.trainer import BatchNoise  # noqa: E402

pytest.importorskip("diffusers")


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def same_unet_output(ours, unet) -> bool:
    """pixeldrift's UNet backbone and a diffusers UNet give the same output for the same random inputs."""
    torch.manual_seed(0)
    config = ours.unet.config
    x = torch.randn(2, config.in_channels, config.sample_size, config.sample_size)
    t, context = torch.tensor([10, 500]), torch.randn(2, 77, config.cross_attention_dim)
    pooled = time_ids = added = None
    if ours.family.base == "sdxl":
        pooled = torch.randn(2, ours.prompt_encoder.text_encoders[-1].config.projection_dim)
        time_ids = torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 2)
        added = {"text_embeds": pooled, "time_ids": time_ids}
    with torch.no_grad():
        mine = ours.denoiser.net(x, t, context, pooled, time_ids)
        theirs = unet(x, t, encoder_hidden_states=context, added_cond_kwargs=added).sample
    return torch.allclose(mine, theirs, atol=1e-5)


def equal_states(a, b) -> bool:
    a, b = a.state_dict(), b.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("family", list(BUILD))
def test_dreambooth_fine_tunes_the_unet_and_writes_models_that_pixeldrift_and_diffusers_open(family, tmp_path):
    from diffusers import DiffusionPipeline, StableDiffusionPipeline, StableDiffusionXLPipeline

    folder = BUILD[family](tmp_path / family)
    base = open_model(folder)
    export = tmp_path / "db-sks"
    trainer = train_sd_dreambooth(tmp_path / "run", CONFIG, folder,
                                  captioned(tmp_path / "data", base.limits.default_width), "sks", prior_weight=0.5,
                                  class_images=2, export=export)
    # prior preservation: the base drew one class image per caption without the identifier, every other slot
    assert isinstance(trainer.data, SubjectAndClass)
    assert len(list((tmp_path / "run" / "class-images").glob("*.png"))) == 2
    assert sorted(text for _, text in trainer.data.prior.rows) == ["a cat 0", "a cat 1"]
    pictures, _ = trainer.data.batch([0, 1])
    noise = BatchNoise(torch.Generator().manual_seed(3), slice(0, 2), 2, torch.device("cpu"))
    weighted = trainer.model(pictures, ["a sks cat 0", "a cat 0"], noise)
    trainer.model.prior = None
    noise = BatchNoise(torch.Generator().manual_seed(3), slice(0, 2), 2, torch.device("cpu"))
    assert torch.allclose(weighted, trainer.model(pictures, ["a sks cat 0", "a cat 0"], noise) * torch.tensor([1, 0.5]))
    # only the UNet trains
    trained = {name for name, p in trainer.model.named_parameters() if p.requires_grad}
    assert trained == {f"unet.{name}" for name, _ in base.unet.named_parameters()}
    tuned = trainer.ema.model.sd
    assert equal_states(tuned.vae, base.vae) and not equal_states(tuned.unet, base.unet)
    assert all(equal_states(a, b) for a, b in zip(tuned.prompt_encoder.text_encoders,
                                                  base.prompt_encoder.text_encoders))

    opened = open_model(export)  # the diffusers folder, in pixeldrift's loader: the same model, the same prompts
    assert opened.family == base.family and equal_states(opened, tuned)
    prompts = ["a photo of sks cat", "a cat"]
    assert all(torch.equal(a, b) for a, b in zip(opened.prompt_encoder.encode(prompts)[0],
                                                 base.prompt_encoder.encode(prompts)[0]))
    assert same_unet_output(opened, DiffusionPipeline.from_pretrained(export).unet)
    if family == "sd2v":
        with pytest.raises(ValueError, match="v-prediction sd1 model cannot be one file"):
            save_single_file(tuned, tmp_path / "db.safetensors")
        return
    single = save_single_file(tuned, tmp_path / "db.safetensors")  # what --export db.safetensors writes
    assert equal_states(open_model(single, config=export), tuned)
    pipeline = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    assert same_unet_output(opened, pipeline.from_single_file(str(single), config=str(export),
                                                              local_files_only=True).unet)


def test_dreambooth_on_a_stable_diffusion_folder_from_the_command_line(tmp_path, capsys):
    from pixeldrift.cli.main import run

    folder = make_sd1(tmp_path / "sd1")
    data = captioned(tmp_path / "data", open_model(folder).limits.default_width)
    common = ["train", "dreambooth", "--base", str(folder), "--data", str(data), "--steps", "1", "--batch-size", "2",
              "--warmup", "0"]
    single = tmp_path / "db.safetensors"
    assert run([*common, "--no-prior", "--out", str(tmp_path / "run"), "--export", str(single)]) == 0
    assert not (tmp_path / "run" / "class-images").exists()
    assert not equal_states(open_model(single, config=folder).unet, open_model(folder).unet)
    lora = tmp_path / "db-lora.safetensors"
    assert run([*common, "--lora", "--rank", "2", "--class-images", "2", "--out", str(tmp_path / "run2"),
                "--export", str(lora)]) == 0
    adapted = open_model(folder)
    adapted.load_lora(lora)
    assert adapted.loras and not equal_states(adapted.unet, open_model(folder).unet)
    capsys.readouterr()
    for wrong, message in ((["--lora", "--convolutions"], "leave out --convolutions"),
                           (["--export", str(tmp_path / "db.ckpt")], "a diffusers folder (no suffix) or one"),
                           (["--sample-every", "1"], "--sample-every is not available")):
        assert run([*common, *wrong, "--out", str(tmp_path / "run3")]) == 2
        assert message in capsys.readouterr().err
    (data / "0.txt").write_text("a cat")
    assert run([*common, "--out", str(tmp_path / "run4"), "--check"]) == 1
    assert "does not name 'sks'" in capsys.readouterr().err and not (tmp_path / "run4").exists()
