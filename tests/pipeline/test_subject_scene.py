"""A personalised subject in a planned scene: the subject's words become a placeholder world shape for the plan, the
base draws the rest with the subject's box empty, and the subject drawn alone is cut out and composed into its box."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixeldrift.cli.main import run
from pixeldrift.pipeline import load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.request import GeneratedImage
from pixeldrift.pipeline.subject_scene import compose, cut_out, draw_subject_scene, plan_subject_scene
from pixeldrift.provenance.record import GenerationRecord

PROMPT = "a red sks shape to the left of a blue square"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def crescent_picture(size: int = 64, background=(240, 235, 220)) -> Image.Image:
    """A red crescent (a disc less an offset disc) filling the middle half of a plain picture."""
    picture = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((size // 4, size // 4, 3 * size // 4, 3 * size // 4), fill=(220, 30, 30))
    draw.ellipse((size // 2, size // 5, size, 4 * size // 5), fill=background)
    return picture


def test_the_subject_is_planned_as_a_shape_the_prompt_does_not_use():
    planned = plan_subject_scene(PROMPT, "sks", seed=4, size=64)
    assert planned.placeholder_prompt == "a red circle to the left of a blue square"
    assert planned.subject_prompt == "a red sks shape"
    assert [o.label for o in planned.plan.objects] == ["red circle", "blue square"]
    assert planned.plan == world_plan("a red circle to the left of a blue square", 4)
    assert planned.subject_box == planned.plan.objects[0].box
    assert [o.label for o in planned.without_subject().objects] == ["blue square"]
    # a prompt that uses circles plans the subject as the next unused shape
    other = plan_subject_scene("a sks shape above two green circles", "sks", 0, 64)
    assert other.placeholder_prompt == "a square above two green circles" and other.subject_prompt == "a sks shape"


def world_plan(prompt: str, seed: int):
    from pixeldrift.pipeline.plan import plan_from_prompt
    return plan_from_prompt(prompt, seed, 64)


@pytest.mark.parametrize("prompt, identifier, message", [
    ("a red circle to the left of a blue square", "sks", "names it 0 times"),
    ("a red sks shape left of a blue sks shape", "sks", "names it 2 times"),
    (PROMPT, "s ks", "one word"),
    ("a red sks shape beneath a clock showing 3:00", "sks", "cannot be planned"),
])
def test_prompts_that_cannot_be_planned_are_refused_by_name(prompt, identifier, message):
    with pytest.raises(ValueError, match=message):
        plan_subject_scene(prompt, identifier, 0, 64)


def test_the_cut_out_subject_lands_in_its_box_and_the_scene_is_kept_elsewhere():
    subject = cut_out(crescent_picture())
    rgb, alpha = subject
    assert rgb.size == alpha.size and rgb.width < 40 and np.asarray(alpha).max() == 255
    scene = Image.new("RGB", (64, 64), (200, 220, 240))
    box = (4.0, 20.0, 24.0, 40.0)
    composed = np.asarray(compose(scene, subject, box)).astype(int)
    outside = np.ones((64, 64), bool)
    outside[20:40, 4:24] = False
    assert np.array_equal(composed[outside], np.asarray(scene).astype(int)[outside])
    red = (composed[..., 0] > 150) & (composed[..., 1] < 100)
    ys, xs = np.nonzero(red)
    assert red.sum() > 40 and xs.min() >= 4 and xs.max() < 24 and ys.min() >= 20 and ys.max() < 40
    assert cut_out(Image.new("RGB", (64, 64), (10, 20, 30))) is None


class DrawsACrescent:
    """A personalised model that draws the subject alone, as DreamBooth does: a red crescent on a plain ground."""

    def __init__(self):
        self.prompts = []

    def generate(self, request):
        self.prompts.append(request.prompt)
        return [GeneratedImage(crescent_picture(request.width), GenerationRecord(prompt=request.prompt))]


def test_the_scene_is_drawn_by_the_base_and_the_subject_composed_into_its_box(random_model_dir,
                                                                              acting_controlnet_dir):
    base, controlnet, personalised = load_model(random_model_dir), load_controlnet(acting_controlnet_dir), \
        DrawsACrescent()
    result, planned = draw_subject_scene(base, controlnet, personalised, PROMPT, "sks", seed=2, steps=2)
    assert personalised.prompts == ["a red sks shape"]
    assert result.record.prompt == PROMPT and result.record.extra["Subject"] == "a red sks shape"
    x0, y0, x1, y1 = (round(v) for v in planned.subject_box)
    from pixeldrift.pipeline.plan import plan_control
    from pixeldrift.pipeline.request import GenerationRequest
    scene = base.generate(GenerationRequest(prompt=planned.placeholder_prompt, seed=2, width=32, height=32, steps=2,
                                            controls=(plan_control([planned.without_subject()], controlnet),)))
    kept = np.ones((32, 32), bool)
    kept[max(y0 - 1, 0):y1 + 1, max(x0 - 1, 0):x1 + 1] = False
    assert np.array_equal(np.asarray(result.image)[kept], np.asarray(scene[0].image)[kept])
    assert not np.array_equal(np.asarray(result.image), np.asarray(scene[0].image))


def test_the_command_writes_a_labelled_picture_and_refuses_bad_input(random_model_dir, acting_controlnet_dir,
                                                                     tmp_path, capsys):
    common = ["subject-scene", PROMPT, "--model", str(random_model_dir), "--control", str(acting_controlnet_dir),
              "--steps", "2"]
    assert run([*common, "--subject-model", str(random_model_dir), "-o", str(tmp_path / "a.png")]) == 0, \
        capsys.readouterr().err
    parameters = Image.open(tmp_path / "a.png").text["parameters"]
    assert parameters.startswith(PROMPT) and "Subject: a red sks shape" in parameters and "cn" in parameters
    assert Image.open(tmp_path / "a.plan.png").size == (32, 32)
    assert run([*common, "-o", str(tmp_path / "b.png")]) == 2
    assert "--subject-model FOLDER (DreamBooth) or --subject-lora FILE" in capsys.readouterr().err
    assert run(["subject-scene", "a red circle", "--subject-model", str(random_model_dir),
                "-o", str(tmp_path / "c.png")]) == 1
    assert "names it 0 times" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "c.png").exists()


def test_a_prompt_that_uses_every_shape_leaves_none_for_the_subject():
    with pytest.raises(ValueError, match="names every shape the world draws"):
        plan_subject_scene("a sks shape left of circles squares triangles stars diamonds crosses", "sks", 0, 64)
