"""`pixeldrift panorama`: a labelled wide PNG; sizes, strides, methods and paths that cannot work refused by reason."""

import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_panorama_is_written_as_a_labelled_png(random_model_dir, tmp_path):
    out = tmp_path / "row.png"
    result = run("panorama", "two red circles", "--model", random_model_dir, "--width", 96, "--stride", 16,
                 "--method", "sync", "--steps", 2, "--sampler", "euler", "-o", out)
    assert result.exit_code == 0, result.output
    assert "96x32, sync" in result.output
    record = read_labels(out.read_bytes()).record
    assert record.prompt == "two red circles" and (record.width, record.height) == (96, 32)
    assert (record.extra["Panorama"], record.extra["Panorama stride"], record.extra["Sync strength"]) == \
        ("sync", "16", "20")
    assert Image.open(out).size == (96, 32)


def test_without_a_file_name_it_goes_to_the_out_folder(random_model_dir, tmp_path):
    result = run("panorama", "two red circles", "--model", random_model_dir, "--width", 64, "--steps", 1,
                 "--method", "independent", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "panorama-independent-000000-two-red-circles.png").is_file()


@pytest.mark.parametrize("options, message", [
    (["--width", "100"], "panorama width 100 must be the window (32) plus a multiple of the stride (16), "
                         "e.g. 96 or 112"),
    (["--width", "512", "--stride", "12"], "the window stride must be a multiple of 8 pixels from 8 to 32 "
                                           "(one window)"),
    (["--width", "16"], "panorama width must be from 32 (one window) to 512 pixels, got 16"),
    (["--width", "1024"], "panorama width must be from 32 (one window) to 512 pixels, got 1024"),
])
def test_sizes_the_model_cannot_cover_are_refused_with_the_reason(random_model_dir, tmp_path, options, message):
    result = run("panorama", "two red circles", "--model", random_model_dir, *options, "-o", tmp_path / "p.png")
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("options, message", [
    (["--width", "1025"], "1025 is not in the range 1<=x<=1024"),
    (["--method", "tiles"], "'tiles' is not one of 'independent', 'multidiffusion', 'sync'"),
    (["--sync-strength", "-1"], "-1.0 is not in the range 0<=x<=1000"),
    (["--steps", "0"], "0 is not in the range 1<=x<=1000"),
    (["-o", "row.jpg"], "must end in .png"),
    (["-o", "no/such/folder/row.png"], "does not exist"),
])
def test_bad_options_are_refused_before_any_model_is_loaded(options, message):
    result = run("panorama", "two red circles", "--model", "no-such-model", *options)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
