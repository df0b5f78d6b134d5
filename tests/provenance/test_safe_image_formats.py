"""load_rgb: formats judged by content, and images read as viewers show them (issue 16)."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from hostile_files import EPS, huge_png_header, time_limit
from pixeldrift.provenance.safe_image import AnimatedImageWarning, ImageReadError, load_rgb, load_rgb_bytes


@pytest.fixture
def no_ghostscript(monkeypatch):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("Pillow handed the file to Ghostscript")
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)


def test_eps_named_png_never_reaches_ghostscript(tmp_path, no_ghostscript):
    (tmp_path / "photo.png").write_bytes(EPS)
    with pytest.raises(ImageReadError, match=r"photo.png: not an image file in a format accepted here \(PNG"):
        load_rgb(tmp_path / "photo.png")
    with pytest.raises(ImageReadError, match="format accepted"):
        load_rgb_bytes(EPS)


def test_a_pipe_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with time_limit(20), pytest.raises(ImageReadError, match="not a regular file"):
        load_rgb(tmp_path / "pipe.png")  # before: open() waited for a writer forever


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    grey = np.array([[0, 257 * 100, 65535, 32768]], dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "deep.png")
    assert load_rgb(tmp_path / "deep.png")[0, :, 0].tolist() == [0, 100, 255, 128]


@pytest.mark.parametrize("background, expected", [(None, [255, 255, 255]), ((0, 0, 0), [0, 0, 0])])
def test_transparency_is_composited_on_the_background(tmp_path, background, expected):
    image = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    image.putpixel((1, 0), (255, 0, 0, 255))
    image.save(tmp_path / "alpha.png")
    pixels = load_rgb(tmp_path / "alpha.png", **({"background": background} if background else {}))
    assert pixels[0, 0].tolist() == expected and pixels[0, 1].tolist() == [255, 0, 0]


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (64, 96), "black")
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    image.save(tmp_path / "phone.jpg", exif=exif)
    assert load_rgb(tmp_path / "phone.jpg").shape == (64, 96, 3)


def test_animated_image_gives_the_first_frame_and_says_so(tmp_path):
    frames = [Image.new("RGB", (4, 4), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = load_rgb(tmp_path / "anim.gif")
    assert pixels[0, 0].tolist() == [255, 0, 0]
    assert any(issubclass(w.category, AnimatedImageWarning) and "first frame" in str(w.message) for w in caught)


@pytest.mark.parametrize("width, height", [(9000, 8000), (100, 100)])
def test_pixel_guard_reads_the_header_only(width, height):
    with pytest.raises(ImageReadError, match="decompression bomb"):
        load_rgb_bytes(huge_png_header(13000, 13000))  # past Pillow's own limit as well
    with pytest.raises(ImageReadError, match="decompression.bomb"):
        load_rgb_bytes(huge_png_header(width, height), max_pixels=5000)
    with pytest.raises(ImageReadError, match=f"{width}x{height}"):
        load_rgb_bytes(huge_png_header(width, height), max_pixels=width * height - 1)
