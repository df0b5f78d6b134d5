"""The outline style's judge: outlined world renders read as outlined and, filled, verify; solid renders
and an empty canvas do not read as outlined; a filled outline of the wrong colour fails its prompt."""

import numpy as np
import pytest
from PIL import Image

from pixeldrift import world
from pixeldrift.data import WorldStream
from pixeldrift.evaluate.style_fidelity import fill_outlines, hollowness, judge_style, outline_objects


def object_scenes(count: int):
    stream, index = WorldStream(seed=5, size=64), 0
    while count:
        _, caption, spec, seed = stream.scene(index)
        index += 1
        if spec.kind == "objects":
            count -= 1
            yield caption, spec, seed


@pytest.mark.parametrize("caption, spec, seed", list(object_scenes(40)))
def test_outlined_renders_read_as_outlined_and_verify_once_filled(caption, spec, seed):
    solid = world.render(spec, size=64, seed=seed)
    ring = np.asarray(Image.fromarray(outline_objects(world.render(spec, size=128, seed=seed), 4)).reduce(2))
    assert hollowness(solid) == 0.0
    verdict = judge_style(ring, caption)
    assert verdict.outlined and verdict.content_ok and verdict.ok, (verdict.hollowness, verdict.explanation)
    assert not judge_style(solid, caption).outlined and judge_style(solid, caption).content_ok


def test_a_hole_is_filled_with_the_ring_colour_and_a_wrong_colour_fails():
    pixels = np.full((64, 64, 3), 255, np.uint8)
    pixels[20:40, 20:40] = (220, 30, 30)
    ring = pixels.copy()
    ring[23:37, 23:37] = 255
    assert hollowness(ring) == pytest.approx(14 * 14 / 400)
    assert np.array_equal(fill_outlines(ring), pixels)
    assert judge_style(ring, "a red square").content_ok
    assert not judge_style(ring, "a blue square").content_ok
    assert hollowness(np.full((64, 64, 3), 255, np.uint8)) == 0.0
