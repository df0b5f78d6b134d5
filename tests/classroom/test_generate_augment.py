"""`generate --augment`: the model gets the rewrite, the user sees it, the PNG keeps both prompts."""

import pytest
from click.testing import CliRunner

from pixeldrift.classroom.augment import augment
from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def run(*args):
    return CliRunner().invoke(cli, ["generate", *map(str, args)])


def test_the_rewrite_is_shown_generated_and_recorded(random_model_dir, tmp_path):
    out = tmp_path / "a.png"
    result = run("three little stars directly above a square", "--augment", "--seed", 4, "--model",
                 random_model_dir, "--steps", 2, "-o", out)
    assert result.exit_code == 0, result.output
    rewrite = augment("three little stars directly above a square", 4)
    assert f"augmented prompt: {rewrite.prompt}" in result.output
    record = read_labels(out.read_bytes()).record
    assert record.prompt == rewrite.prompt
    assert record.extra["Original prompt"] == "three little stars directly above a square"
    assert record.extra["Prompt augmentation"] == rewrite.describe()


def test_off_by_default_and_phrasing_on_request(random_model_dir, tmp_path):
    plain, phrased = tmp_path / "plain.png", tmp_path / "phrased.png"
    assert run("a little star", "--model", random_model_dir, "--steps", 2, "-o", plain).exit_code == 0
    record = read_labels(plain.read_bytes()).record
    assert record.prompt == "a little star" and "Original prompt" not in record.extra
    result = run("a little star", "--augment", "--augment-fill", "phrasing", "--model", random_model_dir,
                 "--steps", 2, "-o", phrased)
    assert result.exit_code == 0, result.output
    assert read_labels(phrased.read_bytes()).record.prompt == "a small star"


def test_a_prompt_outside_the_world_is_refused_with_the_reason(tmp_path):
    result = run("a white cat", "--augment", "-o", tmp_path / "cat.png")
    assert result.exit_code == 2
    assert "--augment reads challenge-world prompts only" in result.output and "cat" in result.output
    assert not (tmp_path / "cat.png").exists()
