"""The verifier on images that are not from the world: a result that says why, never an exception."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from pixeldrift.world import ClockScene, QuantityScene, TextScene, render, verify
from world_cases import single_object

SPECS = [single_object("star", "red"), ClockScene(11, 25), QuantityScene((0, 4), "glass"), TextScene("HELLO")]


def _gradient(size: int = 64) -> np.ndarray:
    """A photo-like smooth colour gradient."""
    y, x = np.mgrid[0:size, 0:size] / size
    return (np.stack([x, y, (x + y) / 2], axis=2) * 255).astype(np.uint8)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("image, words", [
    (np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), "background"),
    (_gradient(), "background"),
    (np.zeros((64, 64, 3), dtype=np.uint8), "background"),
    (np.zeros((100, 80, 3), dtype=np.uint8), "80x100"),
    (np.zeros((48, 48, 3), dtype=np.uint8), "48x48"),
    (np.zeros((64, 64), dtype=np.uint8), "shape"),
    (Image.new("L", (64, 64), 200), "mode is 'L'"),
    (np.full((64, 64, 3), 2.0), "dtype"),
    ("not an image", "str"),
])
def test_non_world_images_give_a_reason(spec, image, words):
    result = verify(image, spec)
    assert not result.ok
    assert result.problems and words in result.problems[0]
    assert "could not read" in result.explain()


@pytest.mark.parametrize("spec", SPECS)
def test_blank_world_background_reports_what_is_missing(spec):
    blank = np.full((64, 64, 3), 250, dtype=np.uint8)
    result = verify(blank, spec)
    assert not result.ok
    assert result.problems or result.failures


def test_rgba_pil_and_float_inputs_are_read_like_rgb():
    spec = single_object("diamond", "green")
    image = render(spec, 64, 3)
    rgba = Image.fromarray(image).convert("RGBA")
    assert verify(image, spec).ok and verify(rgba, spec).ok and verify(image / 255.0, spec).ok


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.sampled_from([(32, 32, 3), (64, 64, 3)])), st.sampled_from(SPECS))
def test_random_pixels_never_crash_the_verifier(image, spec):
    result = verify(image, spec)
    assert isinstance(result.ok, bool)
    assert result.to_dict()["ok"] == result.ok


def test_noise_painted_on_a_world_background_is_not_a_scene():
    rng = np.random.default_rng(1)
    image = render(single_object("star", "red"), 64, 0)
    image[8:56, 8:56] = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    for spec in SPECS:
        assert not verify(image, spec).ok
