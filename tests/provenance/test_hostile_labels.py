"""Hostile PNG text chunks (issue 16): no hang, no terminal escapes, no traceback; webui names (issue 15)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from pixeldrift.cli.provenance import info, shown
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.record import GenerationRecord, RecordFormatError, parse_parameters_text, \
    parse_settings_line
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES

REDOS_PAYLOAD = "p\n" + " " * 200000   # issue 16: a 400-byte zTXt that took past 60 s (quadratic regex)


def png_with_text(key: str, text: str, compressed: bool = False) -> bytes:
    info = PngInfo()
    info.add_text(key, text, zip=compressed)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def run_bounded(code: str, seconds: int = 60) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter; a hang fails the test at `seconds` (a regex ignores alarms)."""
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {seconds} s (before the fix: minutes to hours)")


def test_redos_payload_is_read_in_linear_time(tmp_path):
    data = png_with_text("parameters", REDOS_PAYLOAD, compressed=True)
    assert len(data) < 1000
    (tmp_path / "redos.png").write_bytes(data)
    done = run_bounded(
        "import sys; from pixeldrift.provenance.label import read_labels\n"
        "from pixeldrift.provenance.record import RecordFormatError, parse_settings_line\n"
        f"labels = read_labels(open({str(tmp_path / 'redos.png')!r}, 'rb').read())\n"
        "assert labels.record is None and any('cannot be parsed' in p for p in labels.problems)\n"
        "try: parse_settings_line(' ' * 1_000_000)\n"
        "except RecordFormatError: print('refused')\n")
    assert done.returncode == 0 and done.stdout.strip() == "refused", done.stderr


def test_info_returns_on_the_redos_payload(tmp_path):
    path = tmp_path / "redos.png"
    path.write_bytes(png_with_text("parameters", REDOS_PAYLOAD, compressed=True))
    done = run_bounded(f"from pixeldrift.cli.main import cli; cli(['info', {str(path)!r}])")
    assert done.returncode == 0 and "parameters:" in done.stdout, done.stderr


def test_settings_line_reads_quotes_commas_and_spaces():
    line = 'Steps: 20, Sampler: "a, b" , Note: "", X: y z,'
    assert parse_settings_line(line) == {"Steps": "20", "Sampler": "a, b", "Note": "", "X": "y z"}
    for bad in ('A: "x" y', "no colon", 'A"b: c', "A: 1, , B: 2", 'A: "\\q"'):
        with pytest.raises(RecordFormatError):
            parse_settings_line(bad)


def test_overlong_parameters_text_is_refused_by_name():
    with pytest.raises(RecordFormatError, match="longer than"):
        parse_parameters_text("p\n" + "A: b, " * 300000)
    with pytest.raises(RecordFormatError, match="Size"):
        parse_parameters_text("p\nSteps: 1, Seed: 1, Size: " + "9" * 5000 + "x1")


def test_info_escapes_terminal_control_characters(tmp_path):
    evil = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202eabc\rX\nline two"
    path = tmp_path / "evil.png"
    path.write_bytes(png_with_text("parameters", evil + "\nSteps: 1, Seed: 1, Size: 8x8"))
    result = CliRunner().invoke(info, [str(path)])
    assert not any(c in result.output for c in "\x1b\x07\x9b\u202e\r")
    assert "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202eabc\\x0dX\nline two" in result.output
    as_json = CliRunner().invoke(info, [str(path), "--json"]).output
    assert as_json.isascii() and json.loads(as_json)["parameters"].startswith(evil)


def test_info_cuts_long_values(tmp_path):
    path = tmp_path / "long.png"
    path.write_bytes(png_with_text("parameters", "x" * 50000 + "\nSteps: 1, Seed: 1, Size: 8x8"))
    result = CliRunner().invoke(info, [str(path)])
    assert "x" * 2000 + "... (" in result.output and "x" * 2001 not in result.output
    assert shown("abc", 2) == "ab... (1 more characters)"


def test_oversized_plain_text_chunk_is_a_warning_not_a_dump():
    labels = read_labels(png_with_text("parameters", "y" * ((1 << 20) + 10)))
    assert labels.parameters is None and any("more than" in p for p in labels.problems)


def test_deeply_nested_label_json_is_a_problem_not_a_traceback():
    labels = read_labels(png_with_text("pixeldrift", "[" * 100000))
    assert labels.label is None and any("nested too deeply" in p for p in labels.problems)


def test_infotext_uses_webui_display_names():
    record = GenerationRecord(prompt="a star", sampler="dpmpp_2m", extra={"Schedule type": "karras"})
    text = record.to_parameters_text()
    assert "Sampler: DPM++ 2M," in text and "Schedule type: Karras" in text


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_our_records_round_trip_exactly_through_webui_names(sampler):
    for schedule in SIGMA_SCHEDULES:
        record = GenerationRecord(prompt="p", sampler=sampler, extra={"Schedule type": schedule, "RNG": "cpu"})
        assert parse_parameters_text(record.to_parameters_text()) == record


@pytest.mark.parametrize("sampler_text, schedule_text", [("dpmpp_2m", "karras"), ("DPM++ 2M", "Karras"),
                                                         ("k_dpmpp_2m", "karras"), ("DPM++ 2M Karras", None)])
def test_both_name_forms_are_read_back_as_ours(sampler_text, schedule_text):
    schedule = f", Schedule type: {schedule_text}" if schedule_text else ""
    record = parse_parameters_text(f"p\nSteps: 2, Sampler: {sampler_text}{schedule}, Seed: 1, Size: 8x8")
    assert record.sampler == "dpmpp_2m" and record.extra["Schedule type"] == "karras"
