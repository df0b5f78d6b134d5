"""Plan, then draw: a prompt's plan is the world's own layout (boxes where render puts the objects), a user's
layout is checked field by field, and a plan becomes one control map per image."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from pixeldrift.pipeline.control_maps import edges as edges_of, world_control
from pixeldrift.pipeline.plan import (MAX_LAYOUT_BYTES, Plan, draw_plan, plan_control, plan_from_layout,
                                      plan_from_layout_json, plan_from_prompt, save_plan)
from pixeldrift.world import parse_prompt, render
from pixeldrift.world.control_maps import NEUTRAL_RGB
from pixeldrift.world.palette import OBJECT_RGB

SCENES = ["three red circles above a blue square", "a purple diamond between a red circle and a blue cross",
          "two green stars and a yellow triangle", "five stars", "eight small shapes"]


def object_mask(image: np.ndarray) -> np.ndarray:
    """Pixels that differ from the background (its top-left corner: objects keep a margin from the edges)."""
    return np.abs(image.astype(int) - image[0, 0].astype(int)).max(axis=-1) > 40


def grown(box, size: int, by: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return (max(0, int(x0) - by), max(0, int(y0) - by),
            min(size, int(np.ceil(x1)) + by), min(size, int(np.ceil(y1)) + by))


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("prompt", SCENES)
def test_the_boxes_are_where_render_draws_each_object(prompt, size):
    seed = 7
    plan = plan_from_prompt(prompt, seed, size)
    image = render(parse_prompt(prompt), size, seed)
    mask = object_mask(image)
    inside = np.zeros_like(mask)
    for item in plan.objects:
        x0, y0, x1, y1 = grown(item.box, size, 1)
        inside[y0:y1, x0:x1] = True
        colour = np.abs(image[y0:y1, x0:x1].astype(int) - OBJECT_RGB[item.colour]).max(axis=-1) < 40
        ys, xs = np.nonzero(colour)  # its own pixels fill the box (a star's tips are thinner than a pixel at 32)
        found = [x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1]
        assert np.allclose(found, item.box, atol=2.5), (item, found, size)
    assert not (mask & ~inside).any()  # nothing is drawn outside the boxes
    assert len(plan.objects) == parse_prompt(prompt).total_objects


def test_a_plan_is_the_same_for_the_same_seed_and_moves_with_it():
    first, again = plan_from_prompt(SCENES[3], 5, 64), plan_from_prompt(SCENES[3], 5, 64)
    assert first.to_dict() == again.to_dict() and np.array_equal(first.control_map(), again.control_map())
    other = plan_from_prompt(SCENES[3], 6, 64)
    assert [o.box for o in other.objects] != [o.box for o in first.objects]
    assert {o.label.split()[1] for o in first.objects} == {"star"}  # wildcard colours resolved by the seed
    assert np.array_equal(first.control_map(), world_control("layout", parse_prompt(SCENES[3]), 64, 5))


def test_scenes_without_objects_plan_their_map_and_no_boxes():
    plan = plan_from_prompt("a clock showing 3:40", 2, 64, kind="clock")
    assert plan.objects == () and np.array_equal(plan.control_map(),
                                                 world_control("clock", parse_prompt("a clock showing 3:40"), 64, 2))


def test_a_prompt_outside_the_grammar_cannot_be_planned():
    with pytest.raises(ValueError, match="cannot be planned.*'teapot'.*layout of your own"):
        plan_from_prompt("a red teapot", 0, 64)
    with pytest.raises(ValueError, match="square images of 32, 64, 128"):
        plan_from_prompt("a red circle", 0, 48)


def layout(*objects, **fields) -> str:
    return json.dumps({"objects": [{"label": label, "box": box} for label, box in objects], **fields})


def test_a_user_layout_draws_each_shape_filling_its_box_in_its_colour():
    plan = plan_from_layout_json(layout(("red circle", [4, 8, 28, 24]), ("Blue  square", [40.5, 40, 60, 56])), 64)
    assert [o.label for o in plan.objects] == ["red circle", "blue square"] and plan.scene is None
    drawn = plan.control_map()
    assert tuple(drawn[16, 16]) == OBJECT_RGB["red"] and tuple(drawn[48, 50]) == OBJECT_RGB["blue"]
    ys, xs = np.nonzero(object_mask(drawn)[:, :32])
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (4, 8, 28, 24)  # a circle stretched to its box
    assert tuple(drawn[2, 2]) == NEUTRAL_RGB and tuple(drawn[30, 60]) == NEUTRAL_RGB


def test_a_plans_boxes_handed_back_as_a_layout_draw_the_same_map():
    plan = plan_from_prompt(SCENES[1], 3, 64)
    again = plan_from_layout({"objects": [{"label": o.label, "box": list(o.box)} for o in plan.objects]}, 64)
    difference = np.abs(again.control_map().astype(int) - plan.control_map().astype(int))
    assert difference.mean() < 0.5 and (difference > 64).sum() <= 4


GOOD = ("red circle", [4, 4, 20, 20])


@pytest.mark.parametrize("document, message", [
    ("[]", "layout: expected a JSON object"),
    ("{", "layout: not valid JSON"),
    ("[" * 8_000 + "]" * 8_000, "layout: not valid JSON"),
    ('{"objects": [{"label": "red circle", "box": [4, 4, 20, 2' + "0" * 5000 + ']}]}', "layout: not valid JSON"),
    (json.dumps({}), "layout: missing field.*'objects'"),
    (layout(GOOD, colour="red"), "layout: unknown field.*'colour'; accepted: objects, size"),
    (layout(GOOD, size=32), "size: the layout is for 32-pixel images but the image is 64"),
    (json.dumps({"objects": "red circle"}), "objects: a list of 1 to 8 objects"),
    (layout(), "objects: a list of 1 to 8 objects.*got 0"),
    (layout(*[GOOD] * 9), "objects: a list of 1 to 8 objects.*got 9"),
    (json.dumps({"objects": ["red circle"]}), r"objects\[0\]: expected an object with label and box"),
    (json.dumps({"objects": [{"label": "red circle"}]}), r"objects\[0\]: missing field.*'box'"),
    (json.dumps({"objects": [{"label": "red circle", "box": [1, 1, 9, 9], "size": 3}]}),
     r"objects\[0\]: unknown field.*'size'"),
    (layout(GOOD, ("magenta blob", [4, 4, 20, 20])),
     r"objects\[1\]\.label: 'magenta blob': unknown word.*'magenta', 'blob'; known colours: red.*known shapes: circle"),
    (layout(("circle red", [4, 4, 20, 20])), r"objects\[0\]\.label: 'circle red': not a colour then a shape"),
    (layout(("red", [4, 4, 20, 20])), r"objects\[0\]\.label: 'red': not a colour then a shape"),
    (layout((3, [4, 4, 20, 20])), r"objects\[0\]\.label: expected a colour and a shape"),
    (layout(("red circle", [4, 4, 20])), r"objects\[0\]\.box: expected \[x0, y0, x1, y1\]"),
    (layout(("red circle", [4, 4, 70, 20])), r"objects\[0\]\.box\[2\] must be a finite number from 0 to 64"),
    (layout(("red circle", [True, 4, 20, 20])), r"objects\[0\]\.box\[0\] must be a finite number"),
    (layout(("red circle", ["4", 4, 20, 20])), r"objects\[0\]\.box\[0\] must be a finite number"),
    ('{"objects": [{"label": "red circle", "box": [4, NaN, 20, 20]}]}', r"objects\[0\]\.box\[1\] must be a finite"),
    (layout(("red circle", [20, 4, 4, 20])), r"objects\[0\]\.box: .*needs x0 < x1 and y0 < y1"),
    (layout(("red circle", [4, 4, 5, 20])), r"objects\[0\]\.box: .*at least 2 pixels"),
])
def test_every_bad_field_of_a_user_layout_is_named(document, message):
    with pytest.raises(ValueError, match=message):
        plan_from_layout_json(document, 64)


def test_an_oversized_layout_is_refused_before_it_is_read():
    document = layout(GOOD).encode() + b" " * MAX_LAYOUT_BYTES
    for oversized in (document, document.decode(), "é" * (MAX_LAYOUT_BYTES // 2 + 1)):  # the last: in UTF-8
        with pytest.raises(ValueError, match=f"at most {MAX_LAYOUT_BYTES} bytes"):
            plan_from_layout_json(oversized, 64)
    with pytest.raises(ValueError, match="square images"):
        plan_from_layout_json(layout(GOOD), 96)


def test_a_control_takes_one_map_per_plan_of_the_controlnets_kind():
    plans = [plan_from_prompt(SCENES[0], seed, 32) for seed in (0, 1)]
    control = plan_control(plans, SimpleNamespace(kind="layout", folder="cn"), strength=2.0)
    assert control.strength == 2.0 and len(control.images) == 2
    assert np.array_equal(np.asarray(control.images[1]), plans[1].control_map())
    edges = plan_control(plans, SimpleNamespace(kind="edges", folder="cn"))  # one plan, drawn as another map
    assert np.array_equal(np.asarray(edges.images[0]), world_control("edges", parse_prompt(SCENES[0]), 32, 0))
    boxes = plan_from_layout({"objects": [{"label": "red circle", "box": [4, 4, 20, 20]}]}, 32)
    layout = boxes.control_map("layout")
    assert np.array_equal(boxes.control_map("edges"), edges_of(layout)) and edges_of(layout).any()
    with pytest.raises(ValueError, match="a layout of boxes cannot be drawn as a glyph map"):
        plan_control([boxes], SimpleNamespace(kind="glyph", folder="cn"))


def test_a_plan_is_saved_beside_its_image_and_drawn_over_it(tmp_path):
    plan = plan_from_prompt(SCENES[0], 4, 64)
    json_path, map_path = save_plan(plan, tmp_path / "000004-scene.png")
    assert (json_path.name, map_path.name) == ("000004-scene.plan.json", "000004-scene.plan.png")
    saved = json.loads(json_path.read_text())
    assert saved["seed"] == 4 and saved["source"] == "prompt" and saved["scene"]["relation"] == "above"
    assert [o["box"] for o in saved["objects"]] == [list(o.box) for o in plan.objects]
    assert np.array_equal(np.asarray(Image.open(map_path).convert("RGB")), plan.control_map())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000004-scene.plan.json", "000004-scene.plan.png"]
    shown = np.asarray(draw_plan(Image.new("RGB", (128, 128), "white"), plan))
    x0, y0, x1, y1 = (round(v * 2) for v in plan.objects[-1].box)
    assert tuple(shown[(y0 + y1) // 2, x0]) == OBJECT_RGB["blue"] and tuple(shown[y0 + 1, x0 + 2]) == (255, 255, 255)
    assert Plan(64, "layout", ()).describe() == "user layout; 0 objects; layout map"
    assert plan_from_prompt("a red circle", 1, 64).describe() == "prompt seed 1; 1 object; layout map"


def test_a_saved_plan_is_a_layout_that_draws_the_same_boxes(tmp_path):
    plan = plan_from_prompt(SCENES[0], 4, 64)
    json_path, _ = save_plan(plan, tmp_path / "scene.png")
    again = plan_from_layout_json(json_path.read_bytes(), 64)
    assert [(o.label, o.box) for o in again.objects] == [(o.label, o.box) for o in plan.objects]
    foreign = json.loads(json_path.read_text()) | {"format": "other/1"}
    with pytest.raises(ValueError, match="unknown field"):  # the saved plan's fields, only under its format
        plan_from_layout_json(json.dumps(foreign), 64)
