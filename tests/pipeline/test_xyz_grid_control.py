"""A ControlNet strength sweep as an X/Y grid: strength 0 is the base model, image for image."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.controlnet_folder import base_record, load_controlnet, new_controlnet, save_controlnet
from pixeldrift.pipeline.control_maps import world_control
from pixeldrift.pipeline.grid import parse_axis, plan, run_grid
from pixeldrift.world import parse_prompt

PROMPT = "two red circles"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture
def steered(random_model_dir, tmp_path):
    """The tiny model, a ControlNet for it whose zero convolutions are not zero (so it acts), and a layout map."""
    model = load_model(random_model_dir)
    net = new_controlnet(model)
    with torch.no_grad():
        for conv in net.zero_convs:
            conv.weight.normal_(0, 0.2)
    save_controlnet(net, tmp_path / "cn", "layout", base_record(model, random_model_dir))
    Image.fromarray(world_control("layout", parse_prompt(PROMPT), 32, 0)).save(tmp_path / "map.png")
    return model, load_controlnet(tmp_path / "cn"), Image.open(tmp_path / "map.png").convert("RGB")


def test_strength_axis_sweeps_every_control_and_zero_is_the_base_model(steered):
    model, controlnet, layout = steered
    base = GenerationRequest(PROMPT, steps=2, seed=3, controls=(Control(controlnet, layout, 1.0),) * 2)
    axis = parse_axis("control_strength=0,0.5,2")
    cells = plan(base, axis, parse_axis("control_end=0.5,1"), None, model)[0]
    assert [[(c.strength, c.end) for c in r.controls] for r in cells[0]] == [[(s, 0.5)] * 2 for s in (0, 0.5, 2)]
    sheet, = run_grid(model, base, axis)
    plain = model.generate(GenerationRequest(PROMPT, steps=2, seed=3))[0].image
    images = [image.tobytes() for image in sheet.images]
    assert images[0] == plain.tobytes()                      # zero control: the base model, byte for byte
    assert images[1] != images[0] and images[2] != images[1]  # the control acts, more with more strength


def test_a_control_axis_without_a_control_is_refused(steered):
    model = steered[0]
    with pytest.raises(ValueError, match="control_strength needs a control"):
        plan(GenerationRequest(PROMPT, steps=2), parse_axis("control_strength=0,1"), None, None, model)


def test_the_grid_command_takes_controls(steered, random_model_dir, tmp_path):
    made = CliRunner().invoke(cli, ["grid", PROMPT, "--model", str(random_model_dir), "--steps", "1",
                                    "--control", str(tmp_path / "cn"), "--control-image", str(tmp_path / "map.png"),
                                    "--x", "control_strength=0,1", "--out", str(tmp_path / "sheets")])
    assert made.exit_code == 0, made.output
    assert len(list((tmp_path / "sheets").glob("xyz-0-*.png"))) == 1
