"""Spot the AI: the detector (training, scoring, files), the watermark strip and the combined verdict."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from pixeldrift.classroom.detector import (DetectorConfig, SpotNet, auc, load_detector, save_detector, scores,
                                           strip_watermark, threshold_at, train_detector)
from pixeldrift.classroom.spot_data import scene
from pixeldrift.classroom.verdict import AI, REAL, judge
from pixeldrift.provenance.label import labelled_png_bytes
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.provenance.watermark import detect_watermark, embed_watermark
from pixeldrift.world.render import render


def renders(count: int, size: int = 64, first: int = 0) -> np.ndarray:
    return np.stack([render(scene(s)[0], size, s) for s in range(first, first + count)])


def photo(size: int = 512, seed: int = 0) -> np.ndarray:
    """A textured picture large enough for the watermark to carry its id (bench/watermark.py: from 512 px)."""
    noise = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(noise).filter(ImageFilter.GaussianBlur(2)))


def softened(pictures: np.ndarray) -> np.ndarray:
    """A stand-in for a decoder's pictures: blurred edges plus faint colour noise."""
    rng = np.random.default_rng(0)
    out = [np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(1.2))) for p in pictures]
    return np.clip(np.stack(out) + rng.normal(0, 3, pictures.shape), 0, 255).astype(np.uint8)


def test_training_loss_decreases_on_a_tiny_set():
    torch.set_num_threads(1)
    real = renders(24)
    _, losses = train_detector(real, softened(real), steps=60, batch=16, lr=3e-3)
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])


def test_auc_and_threshold_follow_their_definitions():
    rng = np.random.default_rng(1)
    real, generated = rng.random(200), rng.random(300)
    pairs = np.mean([[g > r for g in generated] for r in real])
    assert auc(real, generated) == pytest.approx(pairs)
    assert auc(real, real + 2) == 1.0 and auc(real + 2, real) == 0.0 and auc(real, real) == 0.5
    for rate in (0.0, 0.05, 0.2):
        threshold = threshold_at(real, rate)
        assert (real >= threshold).mean() <= rate
        assert (real >= np.nextafter(threshold, -1) - 1e-9).mean() > rate or rate == 0.0 or threshold == 0.0


@pytest.mark.parametrize("crop", [(0, 0), (7, 19)])
def test_strip_watermark_takes_the_mark_away(crop):
    clean = photo()
    marked = embed_watermark(clean, 4321)[crop[0]:, crop[1]:]
    stripped, found = strip_watermark(marked)
    assert found.found and found.payload_id == 4321
    assert not detect_watermark(stripped).found
    original = clean[crop[0]:, crop[1]:].astype(int)
    assert np.abs(stripped - original).mean() < 0.25 * np.abs(marked - original).mean()


def test_strip_leaves_an_unmarked_picture_alone():
    clean = render(scene(5)[0], 128, 5)
    stripped, found = strip_watermark(clean)
    assert not found.found and np.array_equal(stripped, clean)


def test_saved_detector_scores_as_before_and_bad_folders_are_named(tmp_path):
    torch.manual_seed(0)
    net, config = SpotNet(), DetectorConfig(threshold=0.3)
    save_detector(tmp_path / "d", net, config, {"note": "test"})
    loaded = load_detector(tmp_path / "d")
    pictures = renders(4)
    assert np.allclose(scores(loaded.net, pictures), scores(net.eval(), pictures))
    assert loaded.config.threshold == pytest.approx(0.3)
    data = json.loads((tmp_path / "d" / "config.json").read_text())
    for bad, words in (({"threshold": 7}, "threshold"), ({"format": "x"}, "format"), ({"channels": [8]}, "fit")):
        (tmp_path / "d" / "config.json").write_text(json.dumps({**data, **bad}))
        with pytest.raises(ValueError, match=words):
            load_detector(tmp_path / "d")
    with pytest.raises(ValueError, match="config.json"):
        load_detector(tmp_path / "missing")


class FixedDetector:
    """A detector whose score is set by the test, to check the verdict's logic alone."""

    def __init__(self, score: float, threshold: float = 0.5):
        self.value, self.config = score, DetectorConfig(threshold=threshold)

    def score(self, pixels):
        return self.value


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_label_decides_whatever_the_detector_says():
    pixels = render(scene(1)[0], 64, 1)
    data = labelled_png_bytes(pixels, GenerationRecord(prompt="a red circle"), watermark=False)
    verdict = judge(pixels, FixedDetector(0.01), data)
    assert verdict.verdict == AI and verdict.label and verdict.parameters
    assert any("labels it AI-generated" in r for r in verdict.reasons)
    assert all("detector" not in r for r in verdict.reasons)


def test_the_watermark_decides_when_found():
    pixels = embed_watermark(photo(seed=1), 77)
    verdict = judge(pixels, FixedDetector(0.01), png(pixels))
    assert verdict.verdict == AI and verdict.watermark and verdict.watermark_id == 77
    assert any("watermark" in r for r in verdict.reasons) and not verdict.label


@pytest.mark.parametrize("score, expected", [(0.9, AI), (0.5, AI), (0.49, REAL)])
def test_without_marks_the_detector_score_against_its_threshold_decides(score, expected):
    pixels = render(scene(4)[0], 64, 4)
    verdict = judge(pixels, FixedDetector(score), png(pixels))
    assert verdict.verdict == expected and verdict.score == score
    assert len(verdict.reasons) == 1 and "detector scores it" in verdict.reasons[0]


def test_without_marks_or_detector_nothing_is_flagged_and_it_says_why():
    pixels = render(scene(4)[0], 64, 4)
    verdict = judge(pixels, None, b"not a png at all")
    assert verdict.verdict == REAL and verdict.score is None and "no detector" in verdict.reasons[0]
