"""DDIM inversion through a whole pipeline: the exact world model (reconstruction and a colour edit) and a tiny net."""

import numpy as np
import pytest
from exact_world_model import SIZE, ExactWorldModel
from PIL import Image

from pixeldrift import world
from pixeldrift.applications.inversion import InversionSettings, invert_and_regenerate, invert_images, regenerate
from pixeldrift.pipeline.pixels import pixels_to_images

RED = "a red circle to the left of a blue square"
GREEN = "a green circle to the left of a blue square"


@pytest.fixture(scope="module")
def exact():
    return ExactWorldModel([RED, GREEN])


def scene(prompt: str, seed: int = 3) -> Image.Image:
    return Image.fromarray(world.render(world.parse_prompt(prompt), size=SIZE, seed=seed))


def centres(image: Image.Image, prompt: str) -> dict[str, tuple[float, float]]:
    result = world.verify(image, world.parse_prompt(prompt))
    return {o["shape"]: (o["cx"] * SIZE, o["cy"] * SIZE) for o in result.seen["objects"]}


def test_inverting_a_world_scene_with_its_caption_gives_it_back(exact):
    result = invert_and_regenerate(exact, [scene(RED)], [RED], settings=InversionSettings(steps=20))
    assert result.psnr[0] > 40 and result.vae_psnr[0] == 100.0, result.psnr
    assert world.verify(result.images[0], world.parse_prompt(RED)).ok


def test_editing_by_inversion_changes_the_colour_and_keeps_the_layout(exact):
    """The edit lands on the scene with the same layout: the nearest one to the inverted noise."""
    source = scene(RED)
    inversion = invert_images(exact, [source], [RED], InversionSettings(steps=20))
    edited = pixels_to_images(regenerate(exact, inversion, [GREEN], InversionSettings(steps=20)))[0]
    assert world.verify(edited, world.parse_prompt(GREEN)).ok
    before, after = centres(source, RED), centres(edited, GREEN)
    assert np.hypot(*np.subtract(before["square"], after["square"])) <= 2


def test_inversion_path_and_strength(exact):
    settings = InversionSettings(steps=20, strength=0.5)
    inversion = invert_images(exact, [scene(RED)], [RED], settings)
    assert len(inversion.path) == 11 and len(inversion.sigmas) == 11
    assert float(inversion.sigmas[0]) < 80 and float(inversion.sigmas[-1]) == 0


@pytest.mark.parametrize("method", ["plain", "negative-prompt", "null-text"])
def test_every_method_runs_on_a_network_with_guidance(tiny_model, method):
    settings = InversionSettings(steps=3, guidance=3.0, method=method, null_text_iterations=2)
    image = scene("a red circle").resize((32, 32))
    result = invert_and_regenerate(tiny_model, [image], ["a red circle"], ["a much longer green star prompt"],
                                   settings)
    assert result.images[0].size == (32, 32) and np.isfinite(result.psnr[0])
    assert (result.inversion.unconds is not None) == (method == "null-text")


@pytest.mark.parametrize("size", ["not a multiple", "too large"])
def test_images_the_model_cannot_make_are_refused_with_the_reason(tiny_model, size):
    m, largest = tiny_model.limits.size_multiple, tiny_model.limits.max_side
    width, height = (3 * m + 1, 2 * m) if size == "not a multiple" else (m, largest + m)
    with pytest.raises(ValueError, match=f"the image is {width}x{height}, but tiny-test makes images whose sides "
                                         f"are multiples of {m} from {m} to {largest}"):
        invert_images(tiny_model, [Image.new("RGB", (width, height))], ["a red circle"], InversionSettings(steps=2))


def test_one_prompt_per_image(tiny_model):
    with pytest.raises(ValueError, match="one prompt per image"):
        invert_images(tiny_model, [Image.new("RGB", (32, 32))] * 2, ["a red circle"], InversionSettings(steps=2))


def test_diffedit_redraws_the_circle_and_leaves_every_other_pixel_as_it_was(exact):
    source = scene(RED)
    settings = InversionSettings(steps=20, diffedit=True)
    inversion = invert_images(exact, [source], [RED], settings)
    edited = pixels_to_images(regenerate(exact, inversion, [GREEN], settings))[0]
    assert world.verify(edited, world.parse_prompt(GREEN)).ok
    before, after = np.asarray(source, np.int16), np.asarray(edited, np.int16)
    changed = np.abs(before - after).max(-1) > 0
    circle = world.verify(source, world.parse_prompt(RED)).seen["objects"]
    square = next(o for o in circle if o["shape"] == "square")
    cx, cy = int(square["cx"] * SIZE), int(square["cy"] * SIZE)
    assert not changed[cy - 2:cy + 3, cx - 2:cx + 3].any()  # the square's middle is untouched
    assert 0 < changed.mean() < 0.5                          # something, not everything, was redrawn


def test_prompt_to_prompt_and_diffedit_run_on_a_network_with_guidance(tiny_model):
    settings = InversionSettings(steps=3, guidance=3.0, method="negative-prompt", diffedit=True, mask_samples=2,
                                 prompt_to_prompt=0.7, self_attention_share=0.3, emphasis=2.0)
    image = scene("a red circle").resize((32, 32))
    result = invert_and_regenerate(tiny_model, [image], ["a red circle"], ["a green circle"], settings)
    assert result.images[0].size == (32, 32) and np.isfinite(result.psnr[0])
    assert all(getattr(m, "probe", None) is None for m in tiny_model.denoiser.modules())
