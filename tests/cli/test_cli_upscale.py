"""`pixeldrift train upscaler` trains, resumes and exports a folder; `pixeldrift upscale` writes a labelled image 4x
the side, from any sampler; bad inputs are refused by name with nothing written; the hires fix takes the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def picture(path, size, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny upscaler trained 2 steps by the command, then resumed to 3, exported: (run folder, export)."""
    root = tmp_path_factory.mktemp("upscaler")
    common = ["train", "upscaler", "--preset", "tiny", "--crop", "16", "--batch-size", "2", "--warmup", "1",
              "--checkpoint-every", "1", "--out", root / "run"]
    first = run(*common, "--steps", "2")
    assert first.exit_code == 0, first.output
    second = run(*common, "--steps", "3", "--resume", "--export", root / "sr")
    assert second.exit_code == 0, second.output
    assert "wrote the upscaler folder" in second.output
    return root / "run", root / "sr"


def test_the_command_trains_resumes_and_exports(trained):
    run_dir, folder = trained
    log = (run_dir / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["2", "3"]  # each run logs its last step; the second resumed
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "pixeldrift-upscaler/1" and config["training"]["steps_done"] == 3
    assert config["upscaler"]["name"] == "sr" and config["weights_dtype"] == "float16"
    assert config["upscaler"]["residual"] is True and config["upscaler"]["sigma_data"] == 0.15
    assert "--crop 16" in config["training"]["command"]


def test_upscale_writes_a_labelled_image_four_times_the_side(trained, tmp_path):
    out = tmp_path / "big.png"
    result = run("upscale", picture(tmp_path / "small.png", (64, 64)), "--model", trained[1], "--steps", 2,
                 "--sampler", "heun", "--seed", 5, "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (256, 256)
    labels = read_labels(out.read_bytes())
    assert labels.ai_generated
    record = labels.record
    assert (record.sampler, record.steps, record.seed, record.model) == ("heun", 2, 5, "sr")
    assert (record.extra["Upscale"], record.extra["Upscaled from"]) == ("4x", "small.png")


def test_resize_fits_another_size_first(trained, tmp_path):
    out = tmp_path / "big.png"
    result = run("upscale", picture(tmp_path / "wide.png", (100, 80)), "--model", trained[1], "--steps", 1,
                 "--resize", "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (256, 256)


@pytest.mark.parametrize("args, code, message", [
    (["--steps", "0"], 2, "0 is not in the range"),
    (["--sampler", "magic"], 2, "'magic' is not one of"),
    (["--schedule", "leading"], 2, "'leading' is not one of"),
])
def test_bad_settings_are_refused(trained, tmp_path, args, code, message):
    out = tmp_path / "big.png"
    result = run("upscale", picture(tmp_path / "small.png", (64, 64)), "--model", trained[1], *args, "-o", out)
    assert result.exit_code == code and message in result.output, result.output
    assert not out.exists()


def test_bad_inputs_are_refused_by_name_and_nothing_is_written(trained, tmp_path):
    small, out = picture(tmp_path / "small.png", (64, 64)), tmp_path / "out" / "big.png"
    (tmp_path / "out").mkdir()
    cases = [
        (["upscale", picture(tmp_path / "odd.png", (64, 48)), "--model", trained[1], "-o", out],
         "odd.png is 64x48; the upscaler 'sr' takes 64x64 images (add --resize"),
        (["upscale", small, "--model", tmp_path / "nothing", "-o", out], "nothing is not an upscaler folder"),
        (["upscale", small, "--model", trained[0], "-o", out], "is not a pixeldrift upscaler folder: no config.json"),
        (["upscale", small, "--model", trained[1], "-o", tmp_path / "out" / "big.jpg"], "must end in .png"),
        (["upscale", tmp_path / "missing.png", "--model", trained[1], "-o", out], "missing.png"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    assert list((tmp_path / "out").iterdir()) == []


def test_train_refuses_other_data_sizes_and_crops(tmp_path):
    for args, message in [(["--data", "folder"], "leave out --data and --size"),
                          (["--size", "32"], "leave out --data and --size"), (["--crop", "20"], "multiple of 8")]:
        result = run("train", "upscaler", "--out", tmp_path / "run", "--steps", 1, *args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_the_hires_fix_enlarges_with_the_trained_model(random_model_dir, acting_upscaler_dir, tmp_path):
    out = tmp_path / "hires.png"
    result = run("generate", "two red circles", "--model", random_model_dir, "--steps", 2, "--hires-scale", 2,
                 "--hires-upscaler-model", acting_upscaler_dir, "--hires-strength", 0.5, "-o", out)
    assert result.exit_code == 0, result.output
    record = read_labels(out.read_bytes()).record
    assert Image.open(out).size == (64, 64)
    assert (record.extra["Hires upscaler"], record.extra["Hires upscaler model"]) == ("SR3", "tiny-sr")
    for args, flag in [(["--hires-upscaler", "sr"], "--hires-upscaler-model"),
                       (["--hires-upscaler-model", acting_upscaler_dir, "--hires-upscaler", "lanczos"],
                        "--hires-upscaler-model"),
                       (["--hires-upscaler-model", acting_upscaler_dir, "--size", "64"], "--hires-upscaler")]:
        result = run("generate", "two red circles", "--model", random_model_dir, "--steps", 1, "--hires-scale", 2,
                     *args, "-o", tmp_path / "no.png")
        assert result.exit_code == 2 and flag in result.output, result.output
    assert not (tmp_path / "no.png").exists()


def test_target_image_trains_sr3s_whole_image_denoiser(tmp_path):
    result = run("train", "upscaler", "--preset", "tiny", "--crop", "16", "--batch-size", "1", "--steps", "1",
                 "--target", "image", "--out", tmp_path / "run", "--export", tmp_path / "whole")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "whole" / "config.json").read_text())["upscaler"]
    assert config["residual"] is False and config["sigma_data"] == 0.5
