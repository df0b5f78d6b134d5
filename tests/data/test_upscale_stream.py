"""Super-resolution pairs from the world: the 256-px render's box reduction is the world's own 64-px render, and the
crops of the render and of the enlarged reduction line up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixeldrift import world
from pixeldrift.data.examples import images_to_tensor
from pixeldrift.data.upscale_stream import CROP_ALIGN, UpscaleStream, box_reduce
from pixeldrift.nets.upscaler import enlarge


def test_a_256_render_reduced_4_times_is_the_64_px_render_of_the_scene_signs_aside():
    stream = UpscaleStream(seed=3)
    kinds = set()
    for index in range(24):
        _, _, spec, seed = stream.stream.scene(index)
        if isinstance(spec, world.TextScene):
            continue  # pixel-art letters are drawn on the output grid at each size
        high, low, _ = stream.pair(index)
        assert high.shape == (256, 256, 3)
        assert np.array_equal(np.asarray(low), world.render(spec, 64, seed)), spec
        kinds.add(type(spec).__name__)
    assert len(kinds) >= 2


def test_a_batch_holds_the_render_crop_then_the_same_crop_of_the_enlarged_reduction():
    stream = UpscaleStream(seed=1, crop=32)
    batch, captions = stream.batch([5, 6])
    assert batch.shape == (2, 6, 32, 32) and len(captions) == 2
    high, low, text = stream.pair(6)
    top, left = stream._corner(6, 256)
    assert top % CROP_ALIGN == 0 and left % CROP_ALIGN == 0 and captions[1] == text
    assert torch.equal(batch[1, :3], images_to_tensor([high])[0, :, top:top + 32, left:left + 32])
    enlarged = enlarge(images_to_tensor([np.asarray(low)]), 4)[0, :, top:top + 32, left:left + 32]
    assert torch.equal(batch[1, 3:], enlarged)
    again, _ = UpscaleStream(seed=1, crop=32).batch([6])
    assert torch.equal(again[0], batch[1])


def test_crops_move_over_the_image():
    stream = UpscaleStream(seed=0, crop=64)
    assert len({stream._corner(i, 256) for i in range(20)}) > 10


@pytest.mark.parametrize("kwargs, message", [
    (dict(crop=60), "multiple of 8"), (dict(crop=512), "multiple of 8"), (dict(factor=3), "factor"),
    (dict(size=100), "sizes"),
])
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UpscaleStream(**kwargs)


def test_the_renderer_draws_256_but_nothing_bigger_and_the_reduction_needs_whole_blocks():
    spec = world.parse_prompt("a red circle")
    assert world.render(spec, 256).shape == (256, 256, 3)
    with pytest.raises(world.SpecError, match="size: 512"):
        world.render(spec, 512)
    with pytest.raises(ValueError, match="multiples of 4"):
        box_reduce(np.zeros((30, 32, 3), np.uint8), 4)
