"""`pixeldrift train t2i` end to end: a model folder that names its network and objective, and generates."""

import json
from dataclasses import replace

import pytest

from click.testing import CliRunner

from pixeldrift.cli.main import cli

TINY = ["--size", "32", "--text-encoder", "bytes", "--steps", "2", "--batch-size", "2", "--warmup", "1"]


def test_train_a_pixel_space_dit_flow_model_export_it_and_generate(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "t2i", *TINY, "--denoiser", "dit", "--denoiser-preset", "tiny",
                                 "--prediction", "flow", "--out", str(tmp_path / "run"),
                                 "--export", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["parameterization"] == "flow" and config["vae"] is None
    assert config["denoiser"]["hidden_dim"] == 96 and config["denoiser"]["patch_size"] == 4  # tiny DiT on pixels
    assert config["sampling"]["sampler"] == "flow_euler" and config["sampling"]["schedule"] == "flow"
    assert (tmp_path / "run" / "log.csv").read_text().splitlines()[-1].startswith("2,")  # the last step is logged
    made = runner.invoke(cli, ["generate", "a red circle", "--model", str(tmp_path / "model"), "--steps", "2",
                               "--size", "32", "--out", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    assert len(list((tmp_path / "out").glob("*.png"))) == 1


def test_an_unknown_denoiser_preset_is_refused_before_anything_is_written(tmp_path):
    result = CliRunner().invoke(cli, ["train", "t2i", *TINY, "--denoiser-preset", "huge",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "'huge' is not one of" in result.output
    assert not (tmp_path / "run").exists()


def test_init_trains_on_from_a_model_folder(tmp_path):
    from safetensors.torch import load_file

    from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS
    from pixeldrift.pipeline import ModelConfig, TextToImage, save_model

    config = ModelConfig(name="start", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=replace(UNET_PRESETS["tiny"], in_channels=3, out_channels=3), vae=None)
    start = save_model(TextToImage(config), tmp_path / "start")
    args = ["train", "t2i", "--init", str(start), "--size", "32", "--steps", "1", "--batch-size", "2",
            "--warmup", "0", "--lr", "1e-12", "--out", str(tmp_path / "run"), "--export", str(tmp_path / "after")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    before, after = (load_file(folder / "denoiser.safetensors") for folder in (start, tmp_path / "after"))
    assert before.keys() == after.keys()
    assert all((before[k] - after[k]).abs().max() < 1e-6 for k in before)  # the folder's weights, one tiny step on
    refused = CliRunner().invoke(cli, [*args[:-2], "--size", "64"])
    assert refused.exit_code != 0 and "train it with --size 32" in refused.output
    ignored = CliRunner().invoke(cli, [*args[:-2], "--prediction", "flow", "--denoiser", "dit"])
    assert ignored.exit_code != 0 and "leave out --denoiser, --prediction" in ignored.output
    recipe = json.loads((tmp_path / "after" / "config.json").read_text())["training"]
    assert recipe["init"] == str(start) and recipe["text_encoder"] == "bytes" and recipe["denoiser"] == "unet"


def _folder(tmp_path, lines):
    import numpy as np
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(data / "a.png")
    (data / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return data


def test_check_reports_every_bad_line_in_one_line_and_writes_nothing(tmp_path, capsys):
    from pixeldrift.cli.main import run

    data = _folder(tmp_path, ['{"file_name": "a.png", "text": "ok"}', '{"file_name": "gone.png", "text": "x"}',
                              "not json"])
    code = run(["train", "t2i", *TINY, "--data", str(data), "--out", str(tmp_path / "run"), "--check"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {data / 'metadata.jsonl'}: 2 bad lines: line 2: ") and "line 3: not valid JSON" in err
    assert not (tmp_path / "run").exists()


def test_check_of_a_good_run_says_what_it_would_train(tmp_path, capsys):
    from pixeldrift.cli.main import run

    data = _folder(tmp_path, ['{"file_name": "a.png", "text": "a black square"}'])
    for kind in (["t2i", *TINY], ["vae", "--size", "32"]):
        code = run(["train", *kind, "--data", str(data), "--out", str(tmp_path / "run"), "--check"])
        out = capsys.readouterr().out
        assert code == 0 and out.startswith(f"ok: 1 captioned images in {data}; ") and "starts at step 0" in out
    assert not (tmp_path / "run").exists()


def test_resuming_from_a_broken_checkpoint_is_one_line(tmp_path, capsys):
    from safetensors.torch import save_file

    from pixeldrift.cli.main import run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_file({"x": __import__("torch").zeros(1)}, run_dir / "checkpoint.safetensors",
              metadata={"pixeldrift_training_state": "[]"})
    code = run(["train", "t2i", *TINY, "--out", str(run_dir), "--resume", "--check"])
    err = capsys.readouterr().err
    assert code == 1 and err == f"error: {run_dir / 'checkpoint.safetensors'}: the training state is a list, " \
                                "not an object\n"


def test_an_unexpected_error_is_one_line_with_a_hint_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    import pixeldrift.train.run as train_run
    from pixeldrift.cli.main import main

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(train_run, "text_to_image_trainer", broken)
    args = ["train", "t2i", *TINY, "--out", str(tmp_path / "run"), "--check"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert err == "error: KeyError: 'a bug' (an internal error; run again with --debug for the traceback, " \
                  "and please report it)\n"
    with pytest.raises(SystemExit):
        main([*args, "--debug"])
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_vae_with_more_latent_channels_on_the_signs_mix_carries_a_text_to_image_model(tmp_path):
    runner = CliRunner()
    vae = runner.invoke(cli, ["train", "vae", "--size", "32", "--steps", "2", "--batch-size", "2", "--warmup", "1",
                              "--latent-channels", "8", "--scene-mix", "signs", "--out", str(tmp_path / "vae")])
    assert vae.exit_code == 0, vae.output
    assert json.loads((tmp_path / "vae" / "vae_config.json").read_text())["latent_channels"] == 8
    t2i = runner.invoke(cli, ["train", "t2i", *TINY, "--vae", str(tmp_path / "vae"), "--out", str(tmp_path / "run"),
                              "--export", str(tmp_path / "model")])
    assert t2i.exit_code == 0, t2i.output
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["denoiser"]["in_channels"] == config["denoiser"]["out_channels"] == 8


def test_the_signs_mix_draws_signs_more_often_than_the_worlds_own():
    import random

    from pixeldrift import world

    def share_of_signs(mix: str) -> float:
        rng = random.Random(0)
        specs = [world.sample_spec(rng, weights=world.SCENE_MIXES[mix]) for _ in range(2000)]
        return sum(isinstance(s, world.TextScene) for s in specs) / len(specs)

    # 40% and 15% drawn, fewer kept: the held-out words are redrawn
    assert share_of_signs("signs") > 2 * share_of_signs("uniform") > 0.2
