"""`pixeldrift world ...`: help with examples, outputs on disk, clear errors and exit codes."""

import json

import pytest
from click.testing import CliRunner

from pixeldrift.cli.main import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("command", [[], ["render"], ["verify"], ["sample"], ["export"], ["check"]])
def test_every_command_has_help_with_examples(command):
    result = _run("world", *command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output and "pixeldrift world" in result.output


def test_render_then_verify(tmp_path):
    out = tmp_path / "scene.png"
    prompt = "a red circle to the left of a blue square"
    assert _run("world", "render", prompt, "-o", str(out), "--seed", "3").exit_code == 0
    good = _run("world", "verify", str(out), prompt)
    assert good.exit_code == 0 and good.output.strip().endswith("correct")
    wrong = _run("world", "verify", str(out), "a red circle to the right of a blue square")
    assert wrong.exit_code == 1 and "FAIL relation" in wrong.output
    as_json = _run("world", "verify", str(out), prompt, "--json")
    assert json.loads(as_json.output)["ok"] is True


def test_bad_prompts_files_and_sizes_are_usage_errors(tmp_path):
    bad_prompt = _run("world", "render", "nine stars", "-o", str(tmp_path / "x.png"))
    assert bad_prompt.exit_code == 2 and "count: 9" in bad_prompt.output
    assert not (tmp_path / "x.png").exists()
    missing = _run("world", "verify", str(tmp_path / "nope.png"), "a star")
    assert missing.exit_code == 2 and "no such file" in missing.output
    (tmp_path / "text.png").write_text("not a png")
    unreadable = _run("world", "verify", str(tmp_path / "text.png"), "a star")
    assert unreadable.exit_code == 1 and "not an image" in unreadable.output
    bad_size = _run("world", "render", "a star", "-o", str(tmp_path / "y.png"), "--size", "50")
    assert bad_size.exit_code == 2 and "32" in bad_size.output


def test_export_and_sample(tmp_path):
    result = _run("world", "export", str(tmp_path / "ds"), "--n", "6")
    assert result.exit_code == 0
    assert len((tmp_path / "ds" / "metadata.jsonl").read_text().splitlines()) == 6
    again = _run("world", "export", str(tmp_path / "ds"), "--n", "6")
    assert again.exit_code == 2 and "already exists" in again.output
    sample = _run("world", "sample", "--n", "2", "--json")
    assert sample.exit_code == 0 and len(sample.output.splitlines()) == 2


def test_check_prints_the_four_figures():
    result = _run("world", "check", "--n", "20")
    assert result.exit_code == 0
    assert [line.split(":")[0].strip() for line in result.output.splitlines()] == [
        "rendered", "degraded", "swapped", "hard negatives"]
