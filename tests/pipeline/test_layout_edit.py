"""The layout edit: B may recolour A's objects and nothing else; the picture's objects are read back, the changed
ones recoloured in the layout and only their boxes repainted, everything else kept exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pixeldrift import world
from pixeldrift.pipeline import load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.layout_edit import MASK_MARGIN_PX, colour_changes, layout_edit, plan_layout_edit

A = "a cyan cross to the left of a pink square"
B = "a black cross to the left of a pink square"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def _picture(size: int = 64) -> Image.Image:
    return world.render_image(world.parse_prompt(A + " on a white background"), size, 3)


def test_b_may_change_colours_only():
    assert colour_changes(A, B) == {("cross", "cyan"): "black"}
    assert colour_changes(A, "a black cross to the left of a red square") == {("cross", "cyan"): "black",
                                                                              ("square", "pink"): "red"}
    for other, message in ((A, "changes nothing"),
                           ("a black cross to the left of a pink circle", "changes colours only"),
                           ("two black crosses to the left of a pink square", "changes colours only"),
                           ("a black cross above a pink square", "changes colours only"),
                           ("a clock showing 3:00", "another kind of scene")):
        with pytest.raises(ValueError, match=message):
            colour_changes(A, other)
    with pytest.raises(ValueError, match="name the colour of the cross in both prompts"):
        colour_changes("a cross to the left of a pink square", B)


def test_the_plan_recolours_the_changed_object_and_masks_its_box_alone():
    picture = _picture()
    edit = plan_layout_edit(picture, A, B)
    assert edit.changes == ("cyan cross -> black cross",)
    labels = sorted(o.label for o in edit.plan.objects)
    assert labels == ["black cross", "pink square"]
    cross = next(o for o in edit.plan.objects if o.shape == "cross")
    square = next(o for o in edit.plan.objects if o.shape == "square")
    mask = np.asarray(edit.mask) > 0
    x0, y0, x1, y1 = (round(v) for v in cross.box)
    assert mask[(y0 + y1) // 2, (x0 + x1) // 2] and mask[max(y0 - MASK_MARGIN_PX + 1, 0), (x0 + x1) // 2]
    sx0, sy0, sx1, sy1 = (round(v) for v in square.box)
    assert not mask[sy0 + 1:sy1 - 1, sx0 + 1:sx1 - 1].any()  # the square is not repainted
    with pytest.raises(ValueError, match=r"a yellow star to recolour is not in the picture \(read: "):
        plan_layout_edit(picture, "a yellow star to the left of a pink square", "a blue star to the left of a pink square")


def test_outside_the_changed_box_the_picture_is_kept_exactly(random_model_dir, acting_controlnet_dir):
    model, controlnet = load_model(random_model_dir), load_controlnet(acting_controlnet_dir)
    picture = _picture(32)
    edit = plan_layout_edit(picture, A, B)
    edited = np.asarray(layout_edit(model, controlnet, picture, A, B, seed=1, steps=3, sampler="euler"))
    # beyond the mask's feathering (a Gaussian of std 4 px cut at 8 px: pipeline/editing.py)
    far = ~np.asarray(edit.mask.filter(ImageFilter.MaxFilter(19))).astype(bool)
    change = np.abs(edited.astype(int) - np.asarray(picture).astype(int))
    assert far.sum() > 50 and change[far].max() == 0
    assert change[np.asarray(edit.mask) > 0].max() > 20  # the box was redrawn
