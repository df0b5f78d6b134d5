"""Fuzzing the parsers of untrusted text and images (issue 16).

Each case must end in success or in the project's own error type (which names the
problem), within the per-example deadline: never another exception, never a hang.
Inputs are random and also mutations of valid files, which reach deeper than noise.
"""

from __future__ import annotations

import io
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from pixeldrift.cli.provenance import shown
from pixeldrift.pipeline.prompt_weights import MAX_WEIGHT, PromptWeightError, parse_weighted_prompt
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.png_chunks import PngFormatError
from pixeldrift.provenance.record import GenerationRecord, RecordFormatError, parse_parameters_text
from pixeldrift.provenance.safe_image import ImageReadError, load_rgb, load_rgb_bytes
from pixeldrift.safety.moderation import MAX_PROMPT_CHARS, PromptTooLong, check_prompt
from pixeldrift.world import PromptError, parse_prompt
from pixeldrift.world.caption import NUMBER_WORDS

EXAMPLES = int(os.environ.get("PIXELDRIFT_FUZZ_EXAMPLES", "150"))   # raise it for a deeper run
FAST = settings(max_examples=EXAMPLES, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
SETTINGS_ALPHABET = st.sampled_from(list('Steps: 20, Sampler: "Euler a", Size: 64x64, Seed: 1\\\n\t "') + ["\x1b", "é"])
WEIGHT_PIECES = st.sampled_from(list("()[]:\\ ab1.5-e") + [" BREAK ", "(a:1.3)", "((", "))"])
WORLD_WORDS = st.sampled_from([*NUMBER_WORDS, "a", "an", "red", "blue", "small", "circle", "circles", "star",
                               "squares", "left", "of", "to", "the", "above", "between", "and", "on", "background",
                               "white", "clock", "showing", "11:25", "²", "1⁵:00", "o'clock", "past", "glasses:",
                               "full", "empty", "sign", "says", "HELLO", "9", "0", ",", "."])


def _png(parameters: str) -> bytes:
    info = PngInfo()
    info.add_text("parameters", parameters, zip=True)
    info.add_itxt("pixeldrift", '{"ai_generated": true, "record": {}}')
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _image_bytes(fmt: str) -> bytes:
    modes = {"PNG": "RGBA", "GIF": "P", "JPEG": "RGB", "BMP": "RGB", "WEBP": "RGB"}
    image = Image.new(modes[fmt], (6, 5))
    image.putpixel((1, 1), 7)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


SEED_FILES = [_png("a cat\nNegative prompt: dog\nSteps: 2, Sampler: DPM++ 2M, Seed: 1, Size: 4x3")] + \
    [_image_bytes(fmt) for fmt in ("PNG", "GIF", "JPEG", "BMP", "WEBP")]


@st.composite
def mutated_files(draw) -> bytes:
    """A valid file with a few bytes overwritten, inserted or cut: past the signature checks."""
    data = bytearray(draw(st.sampled_from(SEED_FILES)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "cut"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


FILES = st.one_of(mutated_files(), st.binary(max_size=300))


@FAST
@given(FILES)
def test_png_text_chunks(data):
    try:
        labels = read_labels(data)
    except PngFormatError:
        return
    assert all(isinstance(p, str) for p in labels.problems)


@FAST
@given(st.text(SETTINGS_ALPHABET, max_size=300), st.text(max_size=100))
def test_parameters_texts(settings_line, prompt):
    try:
        record = parse_parameters_text(prompt + "\n" + settings_line)
    except RecordFormatError as error:
        assert str(error)
        return
    assert isinstance(record, GenerationRecord)


@FAST
@given(st.text(max_size=60), st.sampled_from(["euler", "dpmpp_2m", "unipc", "Euler a, v2", ""]),
       st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9 _.\-]{0,10}[A-Za-z]", fullmatch=True), st.text(max_size=20),
                       max_size=3))
def test_records_round_trip(prompt, sampler, extra):
    extra = {k: v for k, v in extra.items() if k not in ("Steps", "Sampler", "CFG scale", "Seed", "Size", "Model")}
    record = GenerationRecord(prompt=prompt, sampler=sampler or "ddim", extra=extra)
    assert parse_parameters_text(record.to_parameters_text()) == record


@FAST
@given(st.lists(WEIGHT_PIECES, max_size=200).map("".join))
def test_prompt_weights(text):
    try:
        chunks = parse_weighted_prompt(text)
    except PromptWeightError as error:
        assert "prompt" in str(error)
        return
    assert all(math.isfinite(w) and 0 <= w <= MAX_WEIGHT for chunk in chunks for _, w in chunk)


@settings(max_examples=min(EXAMPLES, 100), deadline=3000)
@given(st.one_of(st.text(max_size=MAX_PROMPT_CHARS + 50), st.integers(1990, 2010).map(lambda n: "a " * n)))
def test_moderation(text):
    try:
        verdict = check_prompt(text)
    except PromptTooLong:
        assert len(text) > MAX_PROMPT_CHARS
        return
    assert isinstance(verdict.allowed, bool) and len(text) <= MAX_PROMPT_CHARS


@FAST
@given(st.one_of(st.lists(WORLD_WORDS, max_size=12).map(" ".join), st.text(max_size=60)))
def test_world_prompts(prompt):
    try:
        parse_prompt(prompt)
    except PromptError as error:
        assert str(error)


def _check_pixels(read):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # animated GIFs warn that their first frame is used
        try:
            pixels = read()
        except ImageReadError as error:
            assert str(error)
            return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


@FAST
@given(FILES)
def test_images_by_bytes(data):
    _check_pixels(lambda: load_rgb_bytes(data, "fuzz", max_pixels=1 << 20))


@settings(max_examples=min(EXAMPLES, 100), deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FILES)
def test_images_by_path(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    _check_pixels(lambda: load_rgb(path, max_pixels=1 << 20))


@FAST
@given(st.text(max_size=300), st.integers(1, 50))
def test_shown_text_is_safe_on_a_terminal(text, limit):
    safe = shown(text, limit)
    assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f for c in safe)


@pytest.mark.parametrize("data", SEED_FILES)
def test_the_seed_files_are_valid(data):
    """The mutations start from files that read: otherwise the fuzzing above tests little."""
    assert load_rgb_bytes(data).shape[:2] in ((3, 4), (5, 6))
