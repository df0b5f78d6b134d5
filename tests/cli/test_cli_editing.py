"""The editing commands end to end: generate --init-image/--mask, outpaint, grid, timeline, forward."""

import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.generation_options import parse_lora
from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    result = run("generate", "two red circles", "--seed", 3, "--steps", 4, "--out", folder)
    assert result.exit_code == 0, result.output
    return next(folder.glob("*.png"))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims a huge image, followed by no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_image_to_image_and_inpainting_write_labelled_pngs(scene, tmp_path):
    mask = tmp_path / "mask.png"
    Image.fromarray(np.where(np.arange(64)[None, :] < 24, 255, 0).repeat(64, 0).astype(np.uint8)).save(mask)
    first = run("generate", "a green star", "--init-image", scene, "--strength", 0.5, "--steps", 4,
                "--out", tmp_path / "a")
    second = run("generate", "a green star", "--init-image", scene, "--mask", mask, "--strength", 1, "--steps", 4,
                 "--resample", 2, "--out", tmp_path / "b")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    record = read_labels(next((tmp_path / "b").glob("*.png")).read_bytes()).record
    assert record.extra["Denoising strength"] == "1.0" and record.extra["Resample"] == "2"


@pytest.mark.parametrize("make, message", [
    (lambda p, scene: p.write_text("not an image"), "not an image file"),
    (lambda p, scene: p.write_bytes(png_claiming(20000, 20000)), "decompression bomb"),
    (lambda p, scene: p.write_bytes(png_claiming(9000, 9000)), "decompression-bomb guard"),
    (lambda p, scene: p.write_bytes(scene.read_bytes()[:2000]), "damaged or truncated"),
])
def test_bad_init_images_are_refused_and_nothing_is_written(scene, tmp_path, make, message):
    bad = tmp_path / "in.png"
    make(bad, scene)
    result = run("generate", "a red star", "--init-image", bad, "--out", tmp_path / "out")
    assert result.exit_code != 0 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_a_mask_of_another_size_is_refused(scene, tmp_path):
    mask = tmp_path / "mask.png"
    Image.new("L", (32, 32), 255).save(mask)
    result = run("generate", "a star", "--init-image", scene, "--mask", mask, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "the mask is 32x32 but the image is 64x64" in result.output


def test_strength_outside_zero_to_one_is_a_usage_error(scene, tmp_path):
    result = run("generate", "a star", "--init-image", scene, "--strength", 1.5)
    assert result.exit_code == 2 and "1.5 is not in the range" in result.output


def test_outpaint_extends_the_canvas_and_keeps_the_old_image(scene, tmp_path):
    result = run("outpaint", scene, "two red circles and a blue square", "--pad", "left=32", "--steps", 4,
                 "--mask-blur", 0, "--overlap", 0, "--no-watermark", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(next(tmp_path.glob("outpaint-*.png"))))
    assert out.shape == (64, 96, 3)
    assert np.array_equal(out[:, 32:], np.asarray(Image.open(scene).convert("RGB")))


@pytest.mark.parametrize("pad, message", [("left=20", "width must be a multiple of 16"),
                                          ("middle=16", "must look like SIDE=PIXELS")])
def test_bad_pads_are_refused(scene, tmp_path, pad, message):
    result = run("outpaint", scene, "a star", "--pad", pad, "--out", tmp_path / "out")
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_grid_with_an_unknown_axis_writes_nothing(tmp_path):
    result = run("grid", "a red star", "--x", "colour=red,blue", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "axis 'colour' is not a generation option" in result.output
    result = run("grid", "a red star", "--x", "steps=2,3", "--y", "sampler=euler,bogus", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "unknown sampler" in result.output
    assert not (tmp_path / "out").exists()


def test_grid_writes_one_sheet_per_z_value(tmp_path):
    result = run("grid", "a red star", "--x", "steps=2,3", "--z", "seed=1,2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("xyz-*.png")) == ["xyz-0-a-red-star.png", "xyz-1-a-red-star.png"]


def test_timeline_writes_a_labelled_strip_and_a_gif(tmp_path):
    result = run("timeline", "a red star", "--steps", 6, "--frames", 3, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    strip = next(tmp_path.glob("timeline-*.png"))
    assert read_labels(strip.read_bytes()).record.extra["Timeline steps"] == "1 4 6"
    with Image.open(next(tmp_path.glob("timeline-*.gif"))) as gif:
        assert gif.n_frames == 3 and b"AI-generated" in gif.info["comment"]


def test_forward_writes_the_noising_strip(scene, tmp_path):
    result = run("forward", scene, "--frames", 4, "--out", tmp_path)
    assert result.exit_code == 0 and "timesteps 0, 333, 666, 999" in result.output, result.output
    with Image.open(next(tmp_path.glob("forward-*.gif"))) as gif:
        assert gif.n_frames == 4


def test_size_takes_width_by_height(tmp_path):
    result = run("generate", "a red star", "--size", "96x32", "--steps", 2, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert Image.open(next(tmp_path.glob("*.png"))).size == (96, 32)
    bad = run("generate", "a red star", "--size", "big", "--out", tmp_path / "bad")
    assert bad.exit_code == 2 and "'big' is not a size" in bad.output


@pytest.mark.parametrize("text, expected", [("style.safetensors", ("style.safetensors", 1.0)),
                                            ("style.safetensors:0.7", ("style.safetensors", 0.7)),
                                            ("dir/a:b.safetensors", ("dir/a:b.safetensors", 1.0))])
def test_lora_options_read_an_optional_scale(text, expected):
    assert parse_lora(text) == expected
