"""Column titles over columns narrower than ".." (issue 16: `forward` looped forever on 1-pixel-wide images)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from hostile_files import time_limit
from pixeldrift.cli.watch import forward
from pixeldrift.pipeline.contact_sheet import _fit, labelled_sheet


@pytest.fixture
def alarm():
    """Turn a hang into a failure after a generous bound instead of a stuck test run."""
    with time_limit(60):
        yield


@pytest.mark.parametrize("width, expected", [(1, ""), (0, ""), (1000, "t=999")])
def test_fit_ends_for_any_width(alarm, width, expected):
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    assert _fit(draw, "t=999", ImageFont.load_default(), width) == expected


def test_fit_keeps_as_much_as_fits(alarm):
    draw, font = ImageDraw.Draw(Image.new("RGB", (1, 1))), ImageFont.load_default()
    width = int(draw.textlength("abcd..", font=font))
    assert _fit(draw, "abcdefgh", font, width) == "abcd.."


def test_sheet_of_one_pixel_columns(alarm):
    sheet = labelled_sheet([Image.new("RGB", (1, 1))] * 2, 2, ["t=0", "t=999"], ["x"], "title")
    assert sheet.width >= 3


@pytest.mark.parametrize("size", [(1, 1), (1, 600)])
def test_forward_on_a_one_pixel_wide_image(alarm, tmp_path, size):
    Image.new("RGB", size, "red").save(tmp_path / "thin.png")
    result = CliRunner().invoke(forward, [str(tmp_path / "thin.png"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "forward-thin.png").is_file()
