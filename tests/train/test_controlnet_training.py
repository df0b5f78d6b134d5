"""ControlNet end to end on a tiny model: train (the base frozen, bit for bit), export, resume, generate."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.pipeline import GenerationRequest, load_model, save_model
from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.controlnet_folder import base_record, load_controlnet, new_controlnet, save_controlnet
from pixeldrift.pipeline.control_maps import world_control
from pixeldrift.train.controlnet import WorldControlStream, controlnet_trainer
from pixeldrift.train.trainer import TrainerConfig
from pixeldrift.world import parse_prompt


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def tiny_config(**overrides) -> TrainerConfig:
    return TrainerConfig(**{**dict(steps=2, batch_size=2, learning_rate=1e-2, warmup_steps=1, checkpoint_every=1,
                                   log_every=1, ema_decay=0.5), **overrides})


def test_training_changes_the_controlnet_and_never_the_base_model(random_model_dir, tmp_path):
    trainer = controlnet_trainer(tmp_path / "run", tiny_config(), random_model_dir, "layout")
    base = trainer.model.base.model
    before = {k: v.clone() for k, v in base.state_dict().items()}
    zero_convs = [c.weight.clone() for c in trainer.model.controlnet.zero_convs]
    assert not any(p.requires_grad for p in base.parameters())
    trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    assert any(not torch.equal(a, c.weight) for a, c in zip(zero_convs, trainer.model.controlnet.zero_convs))
    assert not any(k.startswith("model.base.") for k in trainer.state()[0])  # the checkpoint holds no base


def test_the_stream_gives_each_scene_its_own_map(tmp_path):
    data = WorldControlStream("edges", seed=0, size=32)
    batch, captions = data.batch([0, 1])
    image, text, spec, seed = data.stream.scene(1)
    expected = torch.from_numpy(world_control("edges", spec, 32, seed)).permute(2, 0, 1).float() / 255
    assert batch.shape == (2, 6, 32, 32) and captions[1] == text and torch.equal(batch[1, 3:], expected)


def test_a_fresh_controlnet_draws_what_the_base_draws_with_every_sampler_and_editing(random_model_dir, tmp_path):
    model = load_model(random_model_dir)
    folder = save_controlnet(new_controlnet(model), tmp_path / "cn", "layout", base_record(model, random_model_dir))
    hint = Image.fromarray(world_control("layout", parse_prompt("two red circles"), 32, 0))
    start = Image.new("RGB", (32, 32), (200, 30, 30))
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    cases = [dict(sampler="euler"), dict(sampler="heun"), dict(sampler="euler_ancestral"), dict(sampler="dpmpp_2m"),
             dict(init_image=start, strength=0.6), dict(init_image=start, mask=mask, strength=1.0)]
    control = Control(load_controlnet(folder), hint, strength=1.0, start=0.0, end=1.0)
    for case in cases:
        request = GenerationRequest("two red circles", steps=2, seed=3, **case)
        plain = model.generate(request)[0].image
        steered = model.generate(GenerationRequest("two red circles", steps=2, seed=3, controls=(control,),
                                                   **case))[0]
        assert plain.tobytes() == steered.image.tobytes(), case
    assert "Module: layout" in steered.record.extra["ControlNet 0"]


def other_model(folder, tmp_path):
    """The same architecture under another name, one weight changed: another base model."""
    model = load_model(folder)
    model.config = replace(model.config, name="tiny-other")
    with torch.no_grad():
        model.denoiser.net.conv_in.bias[0] += 1
    return save_model(model, tmp_path / "other")


def test_train_export_generate_and_refusals_through_the_command_line(random_model_dir, tmp_path):
    runner = CliRunner()
    train = ["train", "controlnet", "--base", str(random_model_dir), "--control", "layout", "--steps", "2",
             "--batch-size", "2", "--lr", "0.01", "--warmup", "1", "--out", str(tmp_path / "run")]
    first = runner.invoke(cli, [*train, "--export", str(tmp_path / "cn")])
    assert first.exit_code == 0, first.output
    config = json.loads((tmp_path / "cn" / "config.json").read_text())
    assert config["kind"] == "layout" and config["base"]["folder"] == str(random_model_dir)
    assert (tmp_path / "cn" / "controlnet.safetensors").is_file() and (tmp_path / "cn" / "README.md").is_file()
    Image.fromarray(world_control("layout", parse_prompt("two red circles"), 32, 0)).save(tmp_path / "map.png")
    generate = ["generate", "two red circles", "--steps", "2", "--control", str(tmp_path / "cn"),
                "--control-image", str(tmp_path / "map.png")]
    made = runner.invoke(cli, [*generate, "--model", str(random_model_dir), "--control-strength", "2",
                               "--control-end", "0.5", "-o", str(tmp_path / "out.png")])
    assert made.exit_code == 0, made.output
    plain = load_model(random_model_dir).generate(GenerationRequest("two red circles", steps=2))[0].image
    assert Image.open(tmp_path / "out.png").convert("RGB").tobytes() != plain.tobytes()  # a trained control acts
    other = runner.invoke(cli, [*generate, "--model", str(other_model(random_model_dir, tmp_path)), "-o",
                                str(tmp_path / "x.png")])
    assert other.exit_code != 0 and "'tiny-random'" in other.output and "'tiny-other'" in other.output, other.output
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    sized = ["generate", "two red circles", "--model", str(random_model_dir), "--steps", "1", "--control",
             str(tmp_path / "cn"), "--control-image", str(tmp_path / "big.png"), "-o", str(tmp_path / "x.png")]
    wrong = runner.invoke(cli, sized)
    assert wrong.exit_code != 0 and "64x64 but the image to generate is 32x32" in wrong.output, wrong.output
    assert runner.invoke(cli, [*sized, "--control-resize"]).exit_code == 0
    unpaired = runner.invoke(cli, sized[:-4] + ["-o", str(tmp_path / "y.png")])
    assert unpaired.exit_code != 0 and "need as many --control-image" in unpaired.output
    switched = runner.invoke(cli, [*[a if a != "layout" else "edges" for a in train], "--resume"])
    assert switched.exit_code != 0 and "same --base and --control" in switched.output, switched.output
    resumed = runner.invoke(cli, [*train, "--resume", "--steps", "3"])
    assert resumed.exit_code == 0 and "3/3" in resumed.output, resumed.output


def test_init_trains_on_from_an_exported_controlnet_of_the_same_kind_only(random_model_dir, tmp_path):
    model = load_model(random_model_dir)
    start = new_controlnet(model)
    with torch.no_grad():
        start.zero_convs[0].weight.fill_(0.25)  # a weight a fresh copy would not have (zero-initialised)
    save_controlnet(start, tmp_path / "cn", "layout", base_record(model, random_model_dir))
    trainer = controlnet_trainer(tmp_path / "run", tiny_config(), random_model_dir, "layout", init=tmp_path / "cn")
    assert torch.equal(trainer.model.controlnet.zero_convs[0].weight, start.zero_convs[0].weight)
    assert all(p.requires_grad for p in trainer.model.controlnet.parameters())
    trainer.fit()
    assert not torch.equal(trainer.model.controlnet.zero_convs[0].weight, start.zero_convs[0].weight)
    with pytest.raises(ValueError, match="for layout maps and this run trains one for edges"):
        controlnet_trainer(tmp_path / "run2", tiny_config(), random_model_dir, "edges", init=tmp_path / "cn")
    with pytest.raises(ValueError, match="'tiny-other'"):
        controlnet_trainer(tmp_path / "run3", tiny_config(), other_model(random_model_dir, tmp_path), "layout",
                           init=tmp_path / "cn")
