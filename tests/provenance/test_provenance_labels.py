"""Readable labels: the AUTOMATIC1111 parameters text, the pixeldrift JSON chunk, atomic writes."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from pixeldrift.provenance import GenerationRecord, parse_parameters_text, read_labels, save_labelled_png
from pixeldrift.provenance.png_chunks import PngFormatError, read_png_text
from pixeldrift.provenance.record import RecordFormatError
from pixeldrift.provenance.watermark import detect_watermark

AWKWARD_PROMPTS = ["a, b: c", "line one\nline two", "Negative prompt: tricky\nmore", "\\starts with backslash",
                   "ünïcødé 🎨 漢字", "", "trailing newline\n", '"quoted", Steps: 5, Seed: 9', " spaced "]


@pytest.mark.parametrize("prompt", AWKWARD_PROMPTS)
def test_parameters_text_round_trips_exactly(prompt):
    record = GenerationRecord(prompt=prompt, negative_prompt=prompt[::-1], sampler="Euler a, v2", seed=2**40,
                              cfg_scale=7.25, model="m:1", extra={"Hires upscale": "2, 3", "Note": ""})
    assert parse_parameters_text(record.to_parameters_text()) == record


def test_parameters_text_reads_a_webui_example():
    # Written by hand in the webui's format (not by our writer).
    text = "a cat\nNegative prompt: dog\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123, Size: 512x768, Model hash: abc, Model: sd15"
    record = parse_parameters_text(text)
    assert (record.prompt, record.negative_prompt, record.steps, record.width, record.height) == ("a cat", "dog", 30, 512, 768)
    # the webui's pre-1.9 combined name is read as our sampler plus the schedule it names
    assert record.sampler == "dpmpp_2m" and record.extra == {"Model hash": "abc", "Schedule type": "karras"}


@pytest.mark.parametrize("text, problem", [("one line", "settings line"), ("p\nSteps: x, Seed: 1, Size: 1x1", "Steps"),
                                           ("p\nSteps: 1, Seed: 1, Size: big", "Size"), ('p\nSteps: 1, Seed: 1, Size: 2x2, A: "unterminated', "column")])
def test_bad_parameters_text_names_the_problem(text, problem):
    with pytest.raises(RecordFormatError, match=problem):
        parse_parameters_text(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40), st.integers(0, 2**63))
def test_parameters_round_trip_property(prompt, negative, seed):
    record = GenerationRecord(prompt=prompt, negative_prompt=negative, seed=seed)
    parsed = parse_parameters_text(record.to_parameters_text())
    # An empty negative prompt and a missing one are the same in the webui format.
    assert (parsed.prompt, parsed.negative_prompt, parsed.seed) == (prompt, negative, seed)


def test_saved_png_carries_every_label_and_the_mark(tmp_path):
    image = np.asarray(Image.radial_gradient("L").resize((512, 512)).convert("RGB"))
    record = GenerationRecord(prompt="a red circle", seed=5, width=512, height=512)
    path = save_labelled_png(image, tmp_path / "out.png", record)
    labels = read_labels(path.read_bytes())
    assert labels.record == record and labels.ai_generated and not labels.problems
    assert labels.label["watermark"] == {"embedded": True, "id": record.watermark_id(), "key": "pixeldrift-watermark-v1"}
    assert "trainedAlgorithmicMedia" in Image.open(path).info["XML:com.adobe.xmp"]
    found = detect_watermark(np.asarray(Image.open(path).convert("RGB")))
    assert found.found and found.payload_id == record.watermark_id()
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]   # no temporary file left behind


def test_no_watermark_is_recorded_and_pixels_untouched(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = save_labelled_png(image, tmp_path / "plain.png", GenerationRecord(prompt="x"), watermark=False)
    assert read_labels(path.read_bytes()).label["watermark"]["embedded"] is False
    assert np.array_equal(np.asarray(Image.open(path)), image)


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    monkeypatch.setattr("os.replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_labelled_png(np.zeros((64, 64, 3), np.uint8), target, GenerationRecord(prompt="x"))
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_wrong_extension_and_bad_record_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        save_labelled_png(np.zeros((64, 64, 3), np.uint8), tmp_path / "a.jpg", GenerationRecord(prompt="x"))
    with pytest.raises(RecordFormatError, match="steps"):
        save_labelled_png(np.zeros((64, 64, 3), np.uint8), tmp_path / "a.png", GenerationRecord(prompt="x", steps="20"))


def chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def test_forged_chunks_become_warnings_not_crashes():
    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    forged = (header + chunk(b"tEXt", b"parameters\0bad", crc=1) + chunk(b"zTXt", b"k\0\0notzlib")
              + chunk(b"iTXt", b"pixeldrift\0\0\0\0\0{not json") + chunk(b"IEND", b""))
    text = read_png_text(forged)
    assert any("wrong CRC" in w for w in text.warnings) and any("zTXt" in w for w in text.warnings)
    labels = read_labels(forged)
    assert any("not valid JSON" in p for p in labels.problems) and not labels.ai_generated


def test_zip_bomb_text_is_capped():
    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    bomb = chunk(b"zTXt", b"k\0\0" + zlib.compress(b"a" * (5 << 20)))
    assert any("inflates beyond" in w for w in read_png_text(header + bomb + chunk(b"IEND", b"")).warnings)


@pytest.mark.parametrize("data, problem", [(b"", "signature"), (b"GIF89a", "signature"),
                                           (b"\x89PNG\r\n\x1a\n\0\0\0\x10IHDR", "truncated")])
def test_not_png_or_truncated_is_named(data, problem):
    with pytest.raises(PngFormatError, match=problem):
        read_png_text(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_chunk_parser_fuzz_only_raises_its_own_error(data):
    for candidate in (data, b"\x89PNG\r\n\x1a\n" + data):
        try:
            read_labels(candidate)
        except PngFormatError:
            pass


def test_truncated_real_png_is_reported(tmp_path):
    path = save_labelled_png(np.zeros((64, 64, 3), np.uint8), tmp_path / "t.png", GenerationRecord(prompt="x"))
    with pytest.raises(PngFormatError, match="truncated"):
        read_labels(path.read_bytes()[:-30])
