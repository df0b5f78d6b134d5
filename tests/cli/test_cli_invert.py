"""`pixeldrift invert`: a labelled reconstruction or edit, its PSNR printed, every bad input refused with its reason."""

import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift import world
from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels

RED = "a red circle to the left of a blue square"
GREEN = "a green circle to the left of a blue square"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "scene.png"
    world.render_image(world.parse_prompt(RED), size=64, seed=1).save(path)
    return path


def test_reconstruction_writes_a_labelled_png_and_prints_its_psnr(scene, tmp_path):
    out = tmp_path / "back.png"
    result = run("invert", scene, "--prompt", RED, "--steps", 3, "-o", out)
    assert result.exit_code == 0, result.output
    assert "reconstruction PSNR" in result.output and "the VAE alone" in result.output
    record = read_labels(out.read_bytes()).record
    assert record.prompt == RED and record.sampler == "ddim" and record.steps == 3
    assert record.extra["Inversion"] == "plain" and float(record.extra["Reconstruction PSNR"]) > 5
    assert Image.open(out).size == (64, 64)


def test_an_edit_is_labelled_with_both_prompts(scene, tmp_path):
    out = tmp_path / "edit.png"
    result = run("invert", scene, "--prompt", RED, "--to-prompt", GREEN, "--steps", 2, "--guidance", 3,
                 "--method", "negative-prompt", "-o", out)
    assert result.exit_code == 0, result.output
    record = read_labels(out.read_bytes()).record
    assert (record.prompt, record.negative_prompt, record.extra["Inverted prompt"]) == (GREEN, RED, RED)
    assert record.cfg_scale == 3 and "(edit)" in result.output


def test_a_masked_prompt_to_prompt_edit_is_labelled_with_its_controls(scene, tmp_path):
    out = tmp_path / "edit.png"
    result = run("invert", scene, "--prompt", RED, "--to-prompt", GREEN, "--steps", 4, "--guidance", 2,
                 "--method", "negative-prompt", "--strength", "0.5", "--diffedit", "--prompt-to-prompt", "0.8",
                 "-o", out)
    assert result.exit_code == 0, result.output
    extra = read_labels(out.read_bytes()).record.extra
    assert extra["DiffEdit"] == "True" and extra["Prompt-to-prompt"] == "0.8"


def test_an_image_the_model_cannot_make_is_refused_with_the_reason(tmp_path):
    odd = tmp_path / "odd.png"
    Image.new("RGB", (50, 64), "white").save(odd)
    result = run("invert", odd, "--prompt", "a red circle", "-o", tmp_path / "out.png")
    assert result.exit_code != 0
    assert "the image is 50x64, but pixeldrift-cpu makes images whose sides are multiples of 16" in result.output
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("options, message", [
    (["--steps", "0"], "0 is not in the range 1<=x<=1000"),
    (["--steps", "1001"], "1001 is not in the range 1<=x<=1000"),
    (["--guidance", "51"], "51.0 is not in the range 0<=x<=50"),
    (["--method", "ddim"], "'ddim' is not one of 'plain', 'negative-prompt', 'null-text'"),
    (["--strength", "0.01", "--steps", "10"], "inverts no step"),
    (["-o", "out.jpg"], "must end in .png"),
    (["-o", "missing/out.png"], "does not exist"),
    (["--prompt", "x" * 5000], "characters"),
    (["--diffedit"], "give --to-prompt"),
    (["--prompt-to-prompt", "0.5"], "give --to-prompt"),
    (["--to-prompt", GREEN, "--prompt-to-prompt", "2"], "2.0 is not in the range 0<=x<=1"),
    (["--to-prompt", GREEN, "--emphasis", "11"], "11.0 is not in the range 0<=x<=10"),
])
def test_bad_options_are_refused_before_any_work(scene, tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    result = run("invert", scene, "--prompt", RED, "-o", "out.png", *options)  # a repeated option: the last counts
    assert result.exit_code != 0 and message in result.output, result.output
    assert not (tmp_path / "out.png").exists()


def test_a_file_that_is_not_an_image_is_refused(tmp_path):
    bad = tmp_path / "in.png"
    bad.write_text("not an image")
    result = run("invert", bad, "--prompt", RED, "-o", tmp_path / "out.png")
    assert result.exit_code != 0 and "not an image file" in result.output
