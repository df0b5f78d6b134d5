"""`pixeldrift restore`: a labelled PNG of the model's size; measurements of the wrong size or kind refused by reason."""

import numpy as np
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


def picture(path, size, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def test_sr4_restores_a_quarter_size_image_to_the_models_size_as_a_labelled_png(random_model_dir, tmp_path):
    out = tmp_path / "big.png"
    result = run("restore", picture(tmp_path / "small.png", 8), "--task", "sr4", "--model", random_model_dir,
                 "--steps", 2, "--prompt", "a red circle", "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (32, 32)
    record = read_labels(out.read_bytes()).record
    assert (record.prompt, record.extra["Restore"], record.extra["Restore method"]) == ("a red circle", "sr4", "dps")
    assert record.extra["Restore zeta"] == "0.1875" and record.extra["Restored from"] == "small.png"


def test_simulate_writes_the_degraded_measurement_beside_the_restoration(random_model_dir, tmp_path):
    out = tmp_path / "filled.png"
    result = run("restore", picture(tmp_path / "clean.png", 32), "--task", "inpaint", "--simulate", "--method",
                 "pigdm", "--model", random_model_dir, "--steps", 1, "-o", out)
    assert result.exit_code == 0, result.output
    degraded = np.asarray(Image.open(tmp_path / "filled-degraded.png"))
    assert (degraded == 127).all(-1).any() or (degraded == 128).all(-1).any()  # the hidden box, grey (0 in [-1, 1])
    assert read_labels(out.read_bytes()).record.extra["Restore method"] == "pigdm"


def test_a_simulated_sr4_measurement_too_small_to_watermark_is_written_labelled_without_one(random_model_dir, tmp_path):
    out = tmp_path / "big.png"
    result = run("restore", picture(tmp_path / "clean.png", 32), "--task", "sr4", "--simulate", "--noise", 0.1,
                 "--model", random_model_dir, "--steps", 1, "-o", out)
    assert result.exit_code == 0, result.output
    degraded = read_labels((tmp_path / "big-degraded.png").read_bytes())
    assert Image.open(tmp_path / "big-degraded.png").size == (8, 8) and not degraded.label["watermark"]["embedded"]
    record = read_labels(out.read_bytes()).record
    assert (record.extra["Measurement noise"], record.extra["Measurement"]) == ("0.1", "simulated")
    assert degraded.ai_generated and degraded.record == record


def test_inpainting_reads_the_mask(random_model_dir, tmp_path):
    mask = np.zeros((32, 32), np.uint8)
    mask[8:16, 8:16] = 255
    Image.fromarray(mask).save(tmp_path / "hole.png")
    result = run("restore", picture(tmp_path / "holed.png", 32), "--task", "inpaint", "--mask", tmp_path / "hole.png",
                 "--model", random_model_dir, "--steps", 1, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("task, size, extra, message", [
    ("sr4", 9, [], "a sr4 measurement of 9x9 restores to 36x36, which tiny-random cannot make"),
    ("deblur", 20, [], "a deblur measurement of 20x20 restores to 20x20"),
    ("inpaint", 32, [], "--mask goes with --task inpaint"),
    ("deblur", 32, ["--mask", "m.png"], "--mask goes with --task inpaint"),
])
def test_measurements_the_model_cannot_restore_are_refused(random_model_dir, tmp_path, task, size, extra, message):
    result = run("restore", picture(tmp_path / "in.png", size), "--task", task, "--model", random_model_dir,
                 *extra, "-o", tmp_path / "out.png")
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("options, message", [
    (["--task", "denoise"], "'denoise' is not one of 'sr4', 'deblur', 'motion', 'inpaint'"),
    (["--task", "sr4", "--method", "ddrm"], "'ddrm' is not one of 'dps', 'pigdm'"),
    (["--task", "sr4", "--zeta", "-1"], "-1.0 is not in the range 0<=x<=100"),
    (["--task", "sr4", "--noise", "0"], "0.0 is not in the range 0.0001<=x<=1"),
    (["--task", "sr4", "-o", "x.jpg"], "must end in .png"),
])
def test_bad_options_are_refused_before_any_model_is_loaded(tmp_path, options, message):
    result = run("restore", picture(tmp_path / "in.png", 16), "--model", "no-such-model", *options,
                 *([] if "-o" in options else ["-o", tmp_path / "o.png"]))
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
