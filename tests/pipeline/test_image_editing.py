"""Image-to-image, inpainting and variations: exact properties on an exact model, then on the shipped one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from exact_world_model import SIZE, ExactWorldModel
from pixeldrift import world
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.editing import feather, first_step
from pixeldrift.pipeline.pixels import images_to_pixels
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.world.read_objects import read_objects
from pixeldrift.world.read_pixels import border_colour

RED = "a red circle to the left of a blue square"
GREEN = "a green circle to the left of a blue square"
LAYOUT_SEED = 1


@pytest.fixture(scope="module")
def exact():
    return ExactWorldModel([RED, GREEN])


@pytest.fixture(scope="module")
def shipped():
    torch.manual_seed(0)
    return load_model()


def red_scene() -> Image.Image:
    return Image.fromarray(world.render(world.parse_prompt(RED), size=SIZE, seed=LAYOUT_SEED))


def positions(image: Image.Image) -> list[tuple[str, float, float]]:
    pixels = np.asarray(image).astype(np.float64)
    return sorted((o.shape, round(o.cx, 2), round(o.cy, 2)) for o in read_objects(pixels, border_colour(pixels)))


def test_first_step_follows_diffusers_strength_rule():
    assert [first_step(20, s) for s in (0.0, 0.3, 0.6, 1.0)] == [20, 14, 8, 0]


def test_strength_one_is_text_to_image_and_zero_returns_the_input(exact):
    text_only = exact.generate(GenerationRequest(GREEN, seed=4))[0].image
    ignored = exact.generate(GenerationRequest(GREEN, seed=4, init_image=red_scene(), strength=1.0))[0].image
    kept = exact.generate(GenerationRequest(GREEN, seed=4, init_image=red_scene(), strength=0.0))[0].image
    assert ignored.tobytes() == text_only.tobytes()
    assert kept.tobytes() == red_scene().tobytes()


@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m", "euler_ancestral"])
def test_mid_strength_keeps_the_layout_and_takes_the_prompt_colour(exact, sampler):
    edited = exact.generate(GenerationRequest(GREEN, seed=0, init_image=red_scene(), strength=0.6,
                                              sampler=sampler))[0].image
    assert world.verify(np.asarray(edited), world.parse_prompt(GREEN)).ok
    assert not world.verify(np.asarray(edited), world.parse_prompt(RED)).ok
    assert positions(edited) == positions(red_scene())


def circle_mask() -> Image.Image:
    """White over the red circle (its bounding box plus 3 pixels), black elsewhere."""
    pixels = np.asarray(red_scene()).astype(np.float64)
    circle = next(o for o in read_objects(pixels, border_colour(pixels)) if o.shape == "circle")
    half = circle.side * SIZE / 2 + 3
    cx, cy = circle.cx * SIZE, circle.cy * SIZE
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[max(0, int(cy - half)):int(cy + half) + 1, max(0, int(cx - half)):int(cx + half) + 1] = 255
    return Image.fromarray(mask)


def outside(mask: Image.Image, margin: int) -> np.ndarray:
    """Pixels farther than `margin` from any masked pixel."""
    grown = feather(torch.from_numpy(np.asarray(mask) >= 128).float()[None, None], margin) > 1e-6
    return ~grown[0, 0].numpy()


def test_inpainting_recolours_one_object_and_leaves_the_rest(exact):
    mask = circle_mask()
    result = exact.generate(GenerationRequest(GREEN, seed=2, init_image=red_scene(), mask=mask, strength=1.0,
                                              mask_blur=2))[0].image
    assert world.verify(np.asarray(result), world.parse_prompt(GREEN)).ok
    keep = outside(mask, 2)
    difference = np.abs(np.asarray(result).astype(int) - np.asarray(red_scene()).astype(int))
    assert keep.sum() > SIZE * SIZE // 2 and difference[keep].max() == 0


def test_repaint_resampling_runs_each_step_several_times(exact):
    calls = []
    counted = exact.denoiser.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return counted(*args, **kwargs)

    exact.denoiser.forward = counting
    try:
        exact.generate(GenerationRequest(GREEN, steps=5, init_image=red_scene(), mask=circle_mask(), strength=1.0,
                                         resample=3))
    finally:
        del exact.denoiser.forward
    assert len(calls) == 5 * 3


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_inpaints_the_shipped_model_without_touching_the_rest(shipped, sampler):
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 24, 64))
    scene = red_scene()
    result = shipped.generate(GenerationRequest("a green star", steps=4, sampler=sampler, init_image=scene,
                                                mask=mask, strength=1.0))[0].image
    difference = np.abs(np.asarray(result).astype(int) - np.asarray(scene).astype(int))
    keep = outside(mask, 4)
    assert difference[keep].max() == 0 and difference[~keep].mean() > 1


def test_strength_zero_on_the_shipped_model_is_the_vae_round_trip(shipped):
    scene = red_scene()
    result = shipped.generate(GenerationRequest("anything", init_image=scene, strength=0.0))[0].image
    with torch.no_grad():
        expected = shipped.to_images(shipped.pixels_to_latents(images_to_pixels([scene])))[0]
    assert result.tobytes() == expected.tobytes()


def test_variations_stay_near_the_seed_and_grow_with_strength(shipped):
    def image(strength):
        request = GenerationRequest("two green stars", steps=8, seed=5, variation_seed=99,
                                    variation_strength=strength)
        return np.asarray(shipped.generate(request)[0].image).astype(float)

    base, small, large = image(0.0), image(0.05), image(0.6)
    assert np.abs(small - base).mean() < np.abs(large - base).mean()
    assert np.abs(small - base).mean() > 0


def test_an_init_image_of_another_size_is_resized_to_the_requested_size(exact):
    big = red_scene().resize((128, 128))
    result = exact.generate(GenerationRequest(GREEN, init_image=big, width=64, height=64, strength=0.5))[0]
    assert result.image.size == (64, 64) and result.record.extra["Denoising strength"] == "0.5"


@pytest.mark.parametrize("change, message", [
    ({"strength": 1.5}, "strength must be a number from 0 to 1"),
    ({"strength": float("nan")}, "strength must be a number from 0 to 1"),
    ({"mask": Image.new("L", (32, 32))}, "the mask is 32x32 but the image is 64x64"),
    ({"init_image": "in.png"}, "init_image must be a PIL image"),
    ({"resample": 0}, "resample must be an integer from 1"),
    ({"variation_strength": -0.1}, "variation strength must be a number from 0 to 1"),
])
def test_bad_editing_requests_name_the_field(exact, change, message):
    fields = {"init_image": red_scene(), **change}
    with pytest.raises(ValueError, match=message):
        exact.generate(GenerationRequest(GREEN, **fields))


def test_a_mask_without_an_image_is_refused(exact):
    with pytest.raises(ValueError, match="a mask needs an init image"):
        exact.generate(GenerationRequest(GREEN, mask=Image.new("L", (64, 64))))
