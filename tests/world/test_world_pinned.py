"""The world stream pinned: models were trained on it and benchmarks measured against it, so extending the
world (e.g. signs that hold sentences) must leave every spec it samples, every caption it writes and every
pixel it renders exactly as they were. Each hash covers many items; a changed hash means a changed stream."""

import hashlib
import json
import random

import pytest

from pixeldrift.world import (IMAGE_SIZES, ClockScene, QuantityScene, TextScene, caption, parse_prompt, render,
                              sample_spec, spec_to_dict, verify)
from pixeldrift.world.paraphrase import random_caption
from pixeldrift.world.read_text import read_text


def _digest(items) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(item if isinstance(item, bytes) else json.dumps(item, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _train_specs(count: int = 300, seed: int = 2024):
    rng = random.Random(seed)
    return [sample_spec(rng) for _ in range(count)]


def test_the_train_and_heldout_splits_draw_the_same_specs():
    assert _digest(spec_to_dict(s) for s in _train_specs()) == "a6e189e885cbc668"
    heldout = random.Random(7)
    assert _digest(spec_to_dict(sample_spec(heldout, "heldout")) for _ in range(200)) == "f18a6803da80862a"


def test_training_captions_are_the_same_words():
    rng = random.Random(11)
    assert _digest(random_caption(s, rng) for s in _train_specs()) == "6a8973110abdeb4a"


PINNED_RENDERS = {32: "0aeb77a6337d7bb1", 64: "d5772f358122a2fe", 128: "349d4dcc485a293a"}


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_sampled_scenes_render_bit_identically(size):
    specs = [s for s in _train_specs(120, seed=size)
             if not (isinstance(s, TextScene) and len(s.word) > (size - 3) // 6)]
    assert _digest(render(s, size, i).tobytes() for i, s in enumerate(specs)) == PINNED_RENDERS[size]


SIGNS = ["GO", "CAT", "OPEN", "HELLO", "PLANET", "ZEBRA", "QUIZ"]
PINNED_SIGNS = {32: "bc65be586a8737d5", 64: "808c01e745daa0bf", 128: "870d1df430e33bb0"}


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_one_word_signs_render_bit_identically_and_read_back(size):
    signs = [TextScene(w, b) for w in SIGNS for b in (None, "cream") if len(w) <= (size - 3) // 6]
    images = [render(s, size, seed) for s in signs for seed in range(3)]
    assert _digest(image.tobytes() for image in images) == PINNED_SIGNS[size]
    for image, sign in zip(images, [s for s in signs for _ in range(3)]):
        assert read_text(image / 255.0) == sign.word and verify(image, sign).ok


def test_other_kinds_render_bit_identically():
    specs = [ClockScene(11, 25), QuantityScene((0, 1, 2, 3, 4), "glass"), parse_prompt("three red circles"),
             parse_prompt("a green triangle between a red circle and a blue square")]
    assert _digest(render(s, 64, 5).tobytes() for s in specs) == "ae395eb310a6ddf5"


def test_one_word_captions_are_unchanged():
    assert [caption(TextScene("HELLO", "cream"), style) for style in ("short", "plain", "bare", "long")] == [
        "a sign: HELLO", "a sign that says HELLO", "the word HELLO on a sign",
        "a sign that says HELLO on a cream background"]


@pytest.mark.parametrize("size, mix, pinned", [(32, "signs", "447eea975b846db8"), (64, "uniform", "03fd3f246683a531")])
def test_the_training_stream_is_bit_identical(size, mix, pinned):
    from pixeldrift.data.world_stream import WorldStream
    stream = WorldStream(seed=5, size=size, mix=mix)
    assert _digest(b for i in range(60) for b in (stream.example(i)[0].tobytes(), stream.example(i)[1].encode())) \
        == pinned


def test_the_spelled_sign_clips_are_bit_identical():
    from pixeldrift.data.video_stream import VideoStream
    stream = VideoStream(seed=2, size=32, frames=8, weights={"sign": 1.0})
    clips = [stream.clip(i) for i in range(12)]
    assert _digest(b for frames, text, _, _ in clips for b in (frames.tobytes(), text.encode())) == "61d8c7134ab75705"
