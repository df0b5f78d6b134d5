"""Command-line options read as users mean them (issues 15 and 16): --lora scales, -o FILE, long prompts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import pixeldrift.cli.generate as generate_command
from pixeldrift.cli.generation_options import parse_lora
from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("text, expected", [("style.safetensors:1e-3", ("style.safetensors", 0.001)),
                                            ("style.safetensors:2E+1", ("style.safetensors", 20.0)),
                                            ("style.safetensors:-.5", ("style.safetensors", -0.5)),
                                            ("style.safetensors:1.", ("style.safetensors", 1.0)),
                                            ("dir/a:b.safetensors", ("dir/a:b.safetensors", 1.0)),
                                            ("C:\\loras\\x.safetensors", ("C:\\loras\\x.safetensors", 1.0)),
                                            ("x.safetensors:inf", ("x.safetensors:inf", 1.0))])
def test_lora_scale_in_any_decimal_notation(text, expected):
    assert parse_lora(text) == expected


def test_lora_scale_that_overflows_is_refused_by_name():
    result = run("generate", "a red star", "--lora", "x.safetensors:1e999")
    assert result.exit_code == 2 and "1e999" in result.output and "finite" in result.output


@pytest.fixture
def no_model(monkeypatch):
    """Errors in the options must come before a model is loaded."""
    monkeypatch.setattr(generate_command, "load_chosen_model", lambda _o: pytest.fail("a model was loaded"))


@pytest.mark.parametrize("args, problem", [(["-n", 2], "-n asks for 2 images"), (["--out", "d"], "not both"),
                                           ([], "must end in .png")])
def test_output_file_refusals(tmp_path, no_model, args, problem):
    name = "one.png" if problem != "must end in .png" else "one.jpg"
    result = run("generate", "a red star", "-o", tmp_path / name, *args)
    assert result.exit_code == 2 and problem in result.output and list(tmp_path.iterdir()) == []


def test_output_file_in_a_missing_folder_is_refused(tmp_path, no_model):
    result = run("generate", "a red star", "-o", tmp_path / "no" / "one.png")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_output_writes_exactly_one_named_labelled_file(tmp_path):
    result = run("generate", "a red star", "--steps", 2, "-o", tmp_path / "star.png")
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["star.png"]
    assert read_labels((tmp_path / "star.png").read_bytes()).record.prompt == "a red star"


@pytest.mark.parametrize("flag", [None, "--negative"])
def test_generate_refuses_a_long_prompt_before_loading_a_model(no_model, flag):
    huge = "a red star " * 100000
    args = ["a red star", flag, huge] if flag else [huge]
    result = run("generate", *args)
    assert result.exit_code == 2 and "limited to 2000 characters" in result.output
