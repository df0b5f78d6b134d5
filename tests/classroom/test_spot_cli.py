"""`pixeldrift spot`: one verdict with reasons per picture, and bad input refused by name."""

from __future__ import annotations

import json

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from pixeldrift.classroom.detector import DetectorConfig, SpotNet, save_detector
from pixeldrift.classroom.spot_data import scene
from pixeldrift.cli.main import cli
from pixeldrift.cli.spot import MAX_IMAGES
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.world.render import render
from tests.hostile_files import EPS, huge_png_header


def spot(*args):
    return CliRunner().invoke(cli, ["spot", *map(str, args)])


def detector_folder(tmp_path, threshold: float):
    torch.manual_seed(0)
    return save_detector(tmp_path / f"detector-{threshold}", SpotNet(), DetectorConfig(threshold=threshold), {})


def test_a_labelled_picture_is_ai_and_a_plain_render_is_judged_by_the_detector(tmp_path):
    pixels = render(scene(0)[0], 64, 0)
    save_labelled_png(pixels, tmp_path / "made.png", GenerationRecord(prompt="a red circle"), watermark=False)
    Image.fromarray(pixels).save(tmp_path / "render.png")
    never = detector_folder(tmp_path, 1.0)        # a score never reaches 1.0: only marks can flag
    result = spot(tmp_path / "made.png", tmp_path / "render.png", "--detector", never)
    assert result.exit_code == 1, result.output
    made, render_part = result.output.split(str(tmp_path / "render.png"))
    assert "AI-generated" in made and "labels it AI-generated" in made
    assert "not flagged" in render_part and "below its threshold 1.00" in render_part
    always = detector_folder(tmp_path, 0.0)
    result = spot(tmp_path / "render.png", "--detector", always, "--json")
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["verdict"] == "AI-generated" and not report["label"]
    assert 0.0 <= report["score"] <= 1.0 and report["threshold"] == 0.0


def test_no_detector_means_marks_only(tmp_path):
    Image.fromarray(render(scene(1)[0], 64, 1)).save(tmp_path / "render.png")
    result = spot(tmp_path / "render.png", "--no-detector")
    assert result.exit_code == 0 and "no detector" in result.output


def test_bad_input_is_named(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "doc.eps").write_bytes(EPS)
    (tmp_path / "bomb.png").write_bytes(huge_png_header(50_000, 50_000))
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "tiny.png")
    Image.fromarray(render(scene(2)[0], 64, 2)).save(tmp_path / "fine.png")
    names = ["notes.png", "doc.eps", "bomb.png", "tiny.png", "missing.png"]
    result = spot(*(tmp_path / n for n in names), tmp_path / "fine.png", "--no-detector")
    assert result.exit_code == 2
    for name in names:
        assert f"{tmp_path / name}: error" in result.output
    assert "decompression bomb" in result.output and "too small" in result.output
    assert f"{tmp_path / 'fine.png'}: not flagged" in result.output


def test_too_many_files_and_a_broken_detector_are_refused(tmp_path):
    result = spot(*(["x.png"] * (MAX_IMAGES + 1)))
    assert result.exit_code == 2 and f"at most {MAX_IMAGES}" in result.output
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config.json").write_text("{}")
    Image.fromarray(render(scene(2)[0], 64, 2)).save(tmp_path / "fine.png")
    result = spot(tmp_path / "fine.png", "--detector", tmp_path / "d")
    assert result.exit_code == 1 and "cannot open the detector" in result.output and "format" in result.output
