"""World prompts with Unicode digits and `world verify` on hostile files (issue 16)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from PIL import EpsImagePlugin

from hostile_files import EPS, huge_png_header
from pixeldrift.cli.world import world
from pixeldrift.world import PromptError, parse_prompt


@pytest.mark.parametrize("prompt, word", [("² red circles", "²"), ("an analog clock showing 1⁵:00", "1⁵:00"),
                                          ("a clock showing ³ o'clock", "³"), ("² glasses: full and empty", "²"),
                                          ("a clock at ١١:٢٥", "١١:٢٥"), ("a clock at quarter past ⁴", "⁴")])
def test_unicode_digits_are_a_prompt_error_naming_the_word(prompt, word):
    with pytest.raises(PromptError, match=repr(word)):
        parse_prompt(prompt)


def test_ascii_digits_still_read():
    assert parse_prompt("3 red circles").groups[0].count == 3
    assert (parse_prompt("a clock showing 11:25").hour, parse_prompt("a clock showing 11:25").minute) == (11, 25)


def test_verify_refuses_an_eps_named_png(tmp_path, monkeypatch):
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: pytest.fail("Ghostscript was called"))
    (tmp_path / "scene.png").write_bytes(EPS)
    result = CliRunner().invoke(world, ["verify", str(tmp_path / "scene.png"), "three red circles"])
    assert result.exit_code == 1 and "format accepted here" in result.output


@pytest.mark.parametrize("side", [13000, 2000])
def test_verify_refuses_a_pixel_bomb_before_decoding(tmp_path, side):
    (tmp_path / "bomb.png").write_bytes(huge_png_header(side, side))
    result = CliRunner().invoke(world, ["verify", str(tmp_path / "bomb.png"), "three red circles"])
    assert result.exit_code == 1 and "decompression" in result.output and "bomb" in result.output
