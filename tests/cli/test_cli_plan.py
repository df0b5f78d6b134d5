"""`pixeldrift generate --plan / --layout` end to end on a tiny model: each image, its plan and its map."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.plan import MAX_LAYOUT_BYTES, plan_control, plan_from_prompt
from pixeldrift.provenance.label import read_labels

PROMPT = "three red circles above a blue square"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_each_image_is_drawn_from_its_own_plan_saved_beside_it(random_model_dir, acting_controlnet_dir, tmp_path):
    made = run("generate", PROMPT, "--plan", "--model", random_model_dir, "--control", acting_controlnet_dir,
               "--steps", 2, "--seed", 5, "-n", 2, "--control-strength", 1.5, "--no-watermark", "--out", tmp_path)
    assert made.exit_code == 0, made.output
    images = sorted(p for p in tmp_path.glob("0*.png") if ".plan." not in p.name)
    assert [p.name[:6] for p in images] == ["000005", "000006"]
    model, controlnet = load_model(random_model_dir), load_controlnet(acting_controlnet_dir)
    for seed, image in zip((5, 6), images):
        plan = plan_from_prompt(PROMPT, seed, 32)
        saved = json.loads(image.with_suffix(".plan.json").read_text())
        assert saved == json.loads(json.dumps(plan.to_dict()))
        assert np.array_equal(pixels(image.with_suffix(".plan.png")), plan.control_map())
        assert read_labels(image.read_bytes()).record.extra["Plan"] == f"prompt seed {seed}; 4 objects; layout map"
        request = GenerationRequest(PROMPT, steps=2, seed=seed,
                                    controls=(plan_control([plan], controlnet, strength=1.5),))
        plain = model.generate(GenerationRequest(PROMPT, steps=2, seed=seed))[0].image
        drawn = model.generate(request)[0].image
        assert np.array_equal(pixels(image), np.asarray(drawn)) and not np.array_equal(pixels(image), np.asarray(plain))
    plans = [json.loads(p.with_suffix(".plan.json").read_text())["objects"] for p in images]
    assert plans[0] != plans[1]  # each image is laid out with its own seed


def test_a_user_layout_is_drawn_instead_of_the_prompts_plan(random_model_dir, acting_controlnet_dir, tmp_path):
    layout = tmp_path / "boxes.json"
    layout.write_text(json.dumps({"objects": [{"label": "green star", "box": [2, 2, 14, 14]},
                                              {"label": "red circle", "box": [16, 18, 30, 30]}]}))
    made = run("generate", "a garden", "--layout", layout, "--model", random_model_dir, "--control",
               acting_controlnet_dir, "--steps", 1, "-o", tmp_path / "garden.png")
    assert made.exit_code == 0, made.output
    saved = json.loads((tmp_path / "garden.plan.json").read_text())
    assert saved["source"] == "layout" and saved["scene"] is None and saved["objects"][1]["label"] == "red circle"
    assert tuple(pixels(tmp_path / "garden.plan.png")[24, 23]) == (220, 40, 40)
    assert "user layout; 2 objects" in read_labels((tmp_path / "garden.png").read_bytes()).parameters


def test_plans_that_cannot_be_made_or_drawn_are_refused_with_the_reason(random_model_dir, acting_controlnet_dir,
                                                                        tmp_path):
    base = ["generate", PROMPT, "--model", random_model_dir, "--steps", 1, "--out", tmp_path / "out"]
    shipped = run(*base, "--plan")  # models/cn-layout belongs to the default model, not to the tiny one
    assert shipped.exit_code != 0 and "cn-layout unless told otherwise" in shipped.output, shipped.output
    assert "give --control FOLDER" in shipped.output and "'tiny-random'" in shipped.output
    with_control = [*base, "--control", acting_controlnet_dir]
    os.mkfifo(tmp_path / "fifo.json")  # would block a plain open() forever
    (tmp_path / "huge.json").write_bytes(b" " * (MAX_LAYOUT_BYTES + 1))
    cases = {
        ("--plan", "--layout", tmp_path / "none.json"): "not both",
        ("--plan", "--control-image", tmp_path / "map.png"): "leave out --control-image",
        ("--plan", "--size", "32x48"): "square images; got 32x48",
        ("--plan", "--size", "48"): "square images of 32, 64, 128 pixels",
        ("--layout", tmp_path / "fifo.json"): "not a regular file",
        ("--layout", tmp_path / "huge.json"): f"over the {MAX_LAYOUT_BYTES}-byte limit for a layout file",
    }
    for extra, message in cases.items():
        refused = run(*with_control, *extra)
        assert refused.exit_code != 0 and message in refused.output, (extra, refused.output)
    unplannable = run("generate", "a cat on a sofa", "--plan", "--model", random_model_dir, "--control",
                      acting_controlnet_dir, "--out", tmp_path / "out")
    assert unplannable.exit_code != 0 and "cannot be planned" in unplannable.output, unplannable.output
    (tmp_path / "bad.json").write_text(json.dumps({"objects": [{"label": "red blob", "box": [0, 0, 9, 9]}]}))
    bad = run(*with_control, "--layout", tmp_path / "bad.json")
    assert bad.exit_code != 0 and "objects[0].label: 'red blob': unknown word(s) 'blob'" in bad.output, bad.output
    assert not (tmp_path / "out").exists()  # nothing was written


def test_several_controlnets_draw_one_plan_each_as_its_own_map(random_model_dir, acting_controlnet_dir, tmp_path):
    from pixeldrift.pipeline.controlnet_folder import save_controlnet

    edges_dir = save_controlnet(load_controlnet(acting_controlnet_dir).net, tmp_path / "cn-edges", "edges",
                                load_controlnet(acting_controlnet_dir).base)
    made = run("generate", PROMPT, "--plan", "--model", random_model_dir, "--control", acting_controlnet_dir,
               "--control", edges_dir, "--control-strength", 2, "--control-strength", 0.5, "--steps", 2,
               "--seed", 3, "--no-watermark", "-o", tmp_path / "both.png")
    assert made.exit_code == 0, made.output
    plan, model = plan_from_prompt(PROMPT, 3, 32), load_model(random_model_dir)
    controls = (plan_control([plan], load_controlnet(acting_controlnet_dir), 2.0),
                plan_control([plan], load_controlnet(edges_dir), 0.5))
    assert np.array_equal(np.asarray(controls[1].images[0]), plan.control_map("edges"))
    drawn = model.generate(GenerationRequest(PROMPT, steps=2, seed=3, controls=controls))[0].image
    assert np.array_equal(pixels(tmp_path / "both.png"), np.asarray(drawn))
    three = run("generate", PROMPT, "--plan", "--model", random_model_dir, "--control", acting_controlnet_dir,
                "--control", edges_dir, "--control-strength", 1, "--control-strength", 1, "--control-strength", 1,
                "-o", tmp_path / "x.png")
    assert three.exit_code != 0 and "one per --control (2)" in three.output, three.output
