"""`pixeldrift generate --hires-scale`: the enlarged PNG and its record, and every refusal naming its flag."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_the_hires_fix_writes_the_enlarged_png_with_its_parameters(random_model_dir, tmp_path):
    out = tmp_path / "big.png"
    result = run("generate", "two red circles", "--model", random_model_dir, "--steps", 2, "--seed", 1,
                 "--hires-scale", 2, "--hires-strength", 0.5, "--hires-upscaler", "lanczos", "--hires-steps", 3,
                 "-o", out)
    assert result.exit_code == 0, result.output
    labels = read_labels(out.read_bytes())
    assert Image.open(out).size == (64, 64) and "Size: 32x32" in labels.parameters
    assert "Denoising strength: 0.5, Hires upscale: 2, Hires steps: 3, Hires upscaler: Lanczos" in labels.parameters


def test_the_defaults_are_the_webuis(random_model_dir, tmp_path):
    result = run("generate", "a green star", "--model", random_model_dir, "--steps", 2, "--size", "32x24",
                 "--hires-scale", 1.5, "-n", 2, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    pictures = sorted(tmp_path.glob("0*.png"))
    assert [Image.open(p).size for p in pictures] == [(48, 32), (48, 32)]   # 36 rounded down to a multiple of 8
    record = read_labels(pictures[0].read_bytes()).record
    assert (record.extra["Denoising strength"], record.extra["Hires upscale"], record.extra["Hires upscaler"]) \
        == ("0.7", "1.5", "Latent")


@pytest.mark.parametrize("more, flag, words", [
    (["--hires-scale", 1], "--hires-scale", "1<x<=4"),
    (["--hires-scale", 4.5], "--hires-scale", "1<x<=4"),
    (["--hires-scale", 2, "--hires-strength", 1.2], "--hires-strength", "0<=x<=1"),
    (["--hires-scale", 2, "--hires-upscaler", "ESRGAN_4x"], "--hires-upscaler", "'lanczos'"),
    (["--hires-scale", 2, "--hires-steps", -1], "--hires-steps", "0<=x<=1000"),
    (["--hires-strength", 0.5], "--hires-strength", "needs --hires-scale"),
    (["--hires-upscaler", "lanczos"], "--hires-upscaler", "needs --hires-scale"),
    (["--hires-scale", 4, "--size", 256], "--hires-scale", "makes 1024x1024 from 256x256; at most 512"),
    (["--hires-scale", 1.1], "--hires-scale", "makes 32x32 from 32x32"),
    (["--hires-scale", 2, "--plan"], "--hires-scale", "cannot take --plan"),
])
def test_bad_hires_options_are_refused_naming_the_flag(random_model_dir, tmp_path, more, flag, words):
    result = run("generate", "two red circles", "--model", random_model_dir, "--steps", 1, *more,
                 "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert flag in result.output and words in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_an_init_image_or_mask_is_refused_before_any_work(random_model_dir, tmp_path):
    picture = tmp_path / "in.png"
    Image.new("RGB", (32, 32), "white").save(picture)
    for more in (["--init-image", picture], ["--init-image", picture, "--mask", picture]):
        result = run("generate", "a red star", "--model", random_model_dir, "--hires-scale", 2, *more,
                     "--out", tmp_path / "out")
        assert result.exit_code == 2 and "--hires-scale" in result.output, result.output
        assert "it cannot take --init-image" in result.output and not (tmp_path / "out").exists()
