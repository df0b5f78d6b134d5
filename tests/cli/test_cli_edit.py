"""`pixeldrift edit`: a labelled PNG of the recoloured picture and its layout map beside it; prompts that change
more than colours, objects not in the picture and a ControlNet of another model refused by name, nothing written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift import world
from pixeldrift.cli.main import cli

A = "a cyan cross to the left of a pink square"
B = "a black cross to the left of a pink square"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def _run(tmp_path, model, control, *args):
    picture = tmp_path / "scene.png"
    world.render_image(world.parse_prompt(A + " on a white background"), 32, 3).save(picture)
    return CliRunner().invoke(cli, ["edit", str(picture), "--model", str(model), "--control", str(control),
                                    "--steps", "2", *args])


def test_writes_the_edit_labelled_and_its_layout_map(tmp_path, random_model_dir, acting_controlnet_dir):
    out = tmp_path / "edit.png"
    result = _run(tmp_path, random_model_dir, acting_controlnet_dir, "--prompt", A, "--to-prompt", B, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "cyan cross -> black cross" in result.output
    record = Image.open(out).info
    assert "Layout edit: cyan cross -> black cross" in record["parameters"]
    assert json.loads(record["pixeldrift"])["record"]["prompt"] == B and json.loads(record["pixeldrift"])["ai_generated"]
    assert Image.open(tmp_path / "edit.plan.png").size == (32, 32)


@pytest.mark.parametrize("to_prompt, message", [
    ("a black cross to the left of a pink circle", "changes colours only"),
    ("a black cross above a pink square", "changes colours only"),
])
def test_an_edit_beyond_colours_is_refused_and_nothing_written(tmp_path, random_model_dir, acting_controlnet_dir,
                                                               to_prompt, message):
    out = tmp_path / "edit.png"
    result = _run(tmp_path, random_model_dir, acting_controlnet_dir, "--prompt", A, "--to-prompt", to_prompt,
                  "-o", str(out))
    assert result.exit_code == 1 and message in result.output
    assert not out.exists() and not (tmp_path / "edit.plan.png").exists()


def test_an_object_not_in_the_picture_is_refused(tmp_path, random_model_dir, acting_controlnet_dir):
    result = _run(tmp_path, random_model_dir, acting_controlnet_dir, "--prompt",
                  "a yellow star to the left of a pink square", "--to-prompt",
                  "a blue star to the left of a pink square", "-o", str(tmp_path / "edit.png"))
    assert result.exit_code == 1 and "a yellow star to recolour is not in the picture" in result.output


def test_a_controlnet_of_another_model_is_refused(tmp_path, acting_controlnet_dir):
    result = _run(tmp_path, "models/default", acting_controlnet_dir, "--prompt", A, "--to-prompt", B,
                  "-o", str(tmp_path / "edit.png"))
    assert result.exit_code == 1 and "was trained on the model" in result.output
    assert not (tmp_path / "edit.png").exists()
