"""Subject fidelity: a drawn subject matches its silhouette whatever its place and size, the world's own shapes
do not, and the rest of the scene is checked by the verifier."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixeldrift.evaluate.subject_fidelity import (THRESHOLD, judge_subject, silhouette_iou, subject_scene,
                                                  without_identifier)
from pixeldrift.world import parse_prompt, render
from pixeldrift.world.palette import BACKGROUND_RGB, OBJECT_RGB
from pixeldrift.world.shapes import draw_shape

ARROW = [(-1, -0.3), (0.1, -0.3), (0.1, -1), (1, 0), (0.1, 1), (0.1, 0.3), (-1, 0.3)]  # pointing right


def arrow_template(side=128) -> np.ndarray:
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).polygon([((x + 1) / 2 * (side - 1), (y + 1) / 2 * (side - 1)) for x, y in ARROW], fill=255)
    return np.asarray(image) > 127


def arrow_scene(x, y, half, square_at=None) -> Image.Image:
    """A red arrow (and a blue square) on cream, drawn at 4x and reduced as the world renders."""
    image = Image.new("RGB", (256, 256), BACKGROUND_RGB["cream"])
    draw = ImageDraw.Draw(image)
    draw.polygon([(x + px * half, y + py * half) for px, py in ARROW], fill=OBJECT_RGB["red"])
    if square_at is not None:
        draw_shape(draw, "square", *square_at, 32, OBJECT_RGB["blue"])
    return image.reduce(4)


PROMPT = "a red sks shape to the left of a blue square"


@pytest.mark.parametrize("x, y, half", [(60, 80, 30), (70, 180, 22), (90, 120, 36)])
def test_the_subject_anywhere_and_at_any_size_is_found_and_the_scene_verifies(x, y, half):
    verdict = judge_subject(arrow_scene(x, y, half, square_at=(200, y)), PROMPT, "sks", arrow_template())
    assert verdict.iou >= THRESHOLD and verdict.rest_ok and verdict.ok, verdict


def test_world_shapes_in_the_subjects_place_are_not_the_subject():
    scene = parse_prompt(without_identifier(PROMPT, "sks"))
    ious = [judge_subject(render(scene, 64, seed), PROMPT, "sks", arrow_template()) for seed in range(24)]
    assert max(v.iou for v in ious) < THRESHOLD and sum(v.rest_ok for v in ious) >= 20


def test_a_wrong_relation_or_a_missing_square_fails_the_rest():
    assert not judge_subject(arrow_scene(200, 120, 30, square_at=(60, 120)), PROMPT, "sks", arrow_template()).rest_ok
    verdict = judge_subject(arrow_scene(80, 120, 30), PROMPT, "sks", arrow_template())
    assert verdict.subject_ok and not verdict.rest_ok and "blue square" in verdict.explanation


def test_alignment_ignores_place_and_scale_but_not_shape():
    template = arrow_template()
    moved = np.zeros((64, 64), bool)
    moved[10:30, 30:50] = np.asarray(Image.fromarray(template).resize((20, 20))) > 0
    assert silhouette_iou(moved, template) > 0.85
    assert silhouette_iou(np.ones((10, 10), bool), template) < 0.6
    assert silhouette_iou(np.zeros((10, 10), bool), template) == 0.0


def test_a_prompt_must_name_the_subject_first_as_a_shape():
    assert subject_scene("a green sks shape", "sks").groups[0].colour == "green"
    with pytest.raises(ValueError, match="names one subject first"):
        subject_scene("a blue square to the left of a red sks shape", "sks")
