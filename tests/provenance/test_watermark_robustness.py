"""The watermark: invisible, survives ordinary handling, silent on unmarked images."""

import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image, ImageDraw

from pixeldrift.provenance.watermark import (WatermarkSpec, crc8, detect_watermark, detection_threshold,
                                             embed_watermark, payload_signs)


def textured_host(seed: int, size: int = 512) -> np.ndarray:
    """Smooth random texture plus flat shapes: a stand-in for a rendered scene."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 225, (size // 32, size // 32, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y, r = (int(v) for v in rng.integers(0, size, 3) // (1, 1, 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return np.asarray(image)


def jpeg75(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=75)
    return np.asarray(Image.open(buffer).convert("RGB"))


def half_and_back(image):
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((w // 2, h // 2), Image.BICUBIC).resize((w, h), Image.BICUBIC))


ATTACKS = {
    "none": lambda im: im,
    "jpeg75": jpeg75,
    "resize50": half_and_back,
    "crop_left10": lambda im: im[:, im.shape[1] // 10:],
    "crop_top10": lambda im: im[im.shape[0] // 10:],
    "noise2": lambda im: np.clip(im + np.random.default_rng(0).normal(0, 2, im.shape), 0, 255).round().astype(np.uint8),
}


@pytest.fixture(scope="module")
def marked():
    host = textured_host(1)
    return host, embed_watermark(host, 0xBEEF)


def test_watermark_is_invisible_by_psnr(marked):
    host, image = marked
    mse = ((host.astype(float) - image) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) >= 38.0


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_watermark_survives_attack_with_its_id(marked, attack):
    result = detect_watermark(ATTACKS[attack](marked[1]))
    assert result.found and result.confidence > 0.999
    assert result.payload_id == 0xBEEF and result.id_checked


@pytest.mark.parametrize("seed", range(6))
def test_unmarked_images_are_not_flagged(seed):
    rng = np.random.default_rng(seed)
    for image in (textured_host(100 + seed, 256), rng.integers(0, 256, (200, 300, 3), dtype=np.uint8),
                  np.full((128, 128, 3), seed * 40, np.uint8)):
        assert not detect_watermark(image).found


def test_threshold_matches_the_proven_false_alarm_bound():
    spec = WatermarkSpec()
    # tile**2 * exp(-t**2/2) == false_alarm at the threshold, computed independently here.
    t = detection_threshold(spec)
    assert spec.tile**2 * np.exp(-t * t / 2) == pytest.approx(spec.false_alarm)


def test_marker_scores_on_random_images_follow_the_bound():
    """Scores of pure-noise images stay below sqrt(2 ln(tile^2 / 0.05)) in at least 95% of cases."""
    rng = np.random.default_rng(7)
    scores = [detect_watermark(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).score for _ in range(60)]
    assert np.mean(np.array(scores) > np.sqrt(2 * np.log(32**2 / 0.05))) <= 0.05


def test_crc8_matches_known_check_value():
    # CRC-8/ATM ("CRC-8/SMBUS") of the ASCII bytes "123456789" is 0xF4 (Koopman's catalogue).
    value = int.from_bytes(b"123456789", "big")
    assert crc8(value, 72) == 0xF4


def test_payload_out_of_range_is_refused_with_the_range():
    with pytest.raises(ValueError, match="0 to 65535"):
        payload_signs(70000)


def test_too_small_or_wrong_arrays_are_refused():
    with pytest.raises(ValueError, match="at least 32"):
        embed_watermark(np.zeros((16, 64, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="RGB uint8"):
        detect_watermark(np.zeros((64, 64), np.float32))


@settings(max_examples=40, deadline=None)
@given(st.integers(32, 80), st.integers(32, 80), st.binary(min_size=0, max_size=64))
def test_decoder_fuzz_never_crashes(height, width, seed_bytes):
    rng = np.random.default_rng(list(seed_bytes) or [0])
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    result = detect_watermark(image)
    assert 0.0 <= result.confidence <= 1.0 and result.found == (result.false_alarm_bound <= 1e-3)
