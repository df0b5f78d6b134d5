"""The text-to-image pipeline and `pixeldrift generate`, on a tiny random model saved to disk."""

import hashlib

import pytest
import torch
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE_PRESETS
from pixeldrift.pipeline import GenerationRequest, ModelConfig, TextToImage, load_model, save_model
from pixeldrift.provenance.label import read_labels


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_and_seeds_per_image(model_dir):
    model = load_model(model_dir)
    a = model.generate(GenerationRequest("two red circles", steps=3, batch_size=2, seed=5))
    b = model.generate(GenerationRequest("two red circles", steps=3, batch_size=1, seed=6))
    assert a[1].image.tobytes() == b[0].image.tobytes()  # image i of a batch is seed + i on its own
    assert a[0].image.tobytes() != a[1].image.tobytes()
    assert [r.record.seed for r in a] == [5, 6]


def test_generate_command_writes_labelled_pngs_byte_for_byte(model_dir, tmp_path):
    runner = CliRunner()
    args = ["generate", "a blue star", "--model", str(model_dir), "--steps", "3", "-n", "2"]
    first = runner.invoke(cli, args + ["--out", str(tmp_path / "a")])
    second = runner.invoke(cli, args + ["--out", str(tmp_path / "b")])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 3 and files[-1].startswith("grid-")
    assert all(digest(tmp_path / "a" / f) == digest(tmp_path / "b" / f) for f in files)
    labels = read_labels((tmp_path / "a" / files[0]).read_bytes())
    assert labels.record.prompt == "a blue star" and labels.record.steps == 3


@pytest.mark.parametrize("args,message", [
    (["", "--steps", "3"], "prompt is empty"),
    (["x" * 3000], "limited to 2000 characters"),
    (["a red circle", "--steps", "0"], "0 is not in the range 1<=x<=1000"),
    (["a red circle", "--steps", "10000"], "10000 is not in the range"),
    (["a red circle", "--size", "36"], "width must be a multiple of 8"),  # tiny model: VAE 4 x UNet 2
    (["a red circle", "--sampler", "magic"], "'magic' is not one of"),
])
def test_bad_requests_exit_non_zero_with_the_reason(model_dir, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["generate", *args, "--model", str(model_dir), "--out", str(tmp_path)])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_refused_prompt_exits_1_naming_the_category(model_dir, tmp_path):
    result = CliRunner().invoke(cli, ["generate", "a nude child", "--model", str(model_dir), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "prompt refused" in result.output
    assert not any(tmp_path.iterdir())


def test_broken_model_folders_are_named(model_dir, tmp_path):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "vae.safetensors").unlink()
    with pytest.raises(ValueError, match="missing vae.safetensors"):
        load_model(broken)
    (broken / "vae.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="vae.safetensors"):
        load_model(broken)
    shutil.copy(model_dir / "denoiser.safetensors", broken / "vae.safetensors")
    with pytest.raises(ValueError, match="does not match"):
        load_model(broken)
    with pytest.raises(ValueError, match="no config.json"):
        load_model(tmp_path / "nowhere")


def test_inconsistent_config_is_refused():
    with pytest.raises(ValueError, match="the denoiser attends to width 64, the text encoder gives 256"):
        ModelConfig(name="x", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["small"],
                    denoiser=UNET_PRESETS["tiny"], vae=VAE_PRESETS["tiny"])


def test_two_line_python_api_writes_a_labelled_png(model_dir, tmp_path):
    import pixeldrift
    results = pixeldrift.generate("three red circles", model=str(model_dir), steps=2, batch_size=2)
    path = results[1].save(tmp_path / "out.png")
    labels = read_labels(path.read_bytes())
    assert labels.record.seed == 1 and labels.record.model == "tiny-test"


def test_pixel_space_model_generates_without_a_vae(tmp_path):
    config = ModelConfig(name="pixels", image_size=16, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=UNET_PRESETS["tiny"].__class__(**{**UNET_PRESETS["tiny"].to_dict(),
                                                                   "in_channels": 3, "out_channels": 3}),
                         vae=None)
    model = load_model(save_model(TextToImage(config), tmp_path / "pixels"))
    images = model.generate(GenerationRequest("a red square", steps=2))
    assert model.vae is None and not (tmp_path / "pixels" / "vae.safetensors").exists()
    assert images[0].image.size == (16, 16)


def test_repeated_prompts_are_encoded_once_and_read_as_if_each_were_encoded(model_dir):
    model = load_model(model_dir)
    texts = ["a red circle", "", "two blue squares", "", "a red circle"]
    each = model.text_encoder.encode(texts)
    shared = model._encode_unique(texts)
    assert torch.equal(shared.context, each.context) and torch.equal(shared.context_mask, each.context_mask)
    assert shared.truncated == each.truncated
