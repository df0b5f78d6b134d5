"""The hires fix on a tiny random model (32 px): sizes, strength 0, the record, steps, and refusals by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.hires_fix import HiresError, HiresFix, fit_latents, steps_run
from pixeldrift.pipeline.pixels import images_to_pixels
from pixeldrift.pipeline.upscaler_folder import load_upscaler
from pixeldrift.provenance.label import labelled_png_bytes, read_labels

PROMPT = "two red circles"


@pytest.fixture(scope="module")
def model(random_model_dir):
    torch.set_num_threads(1)
    return load_model(random_model_dir)


def make(model, hires, **more):
    settings = {"steps": 2, "seed": 3, **more}
    return model.generate(GenerationRequest(PROMPT, hires=hires, **settings))


@pytest.mark.parametrize("upscaler", ["latent", "latent-nearest", "latent-bicubic-antialiased", "lanczos", "bicubic"])
def test_every_upscaler_makes_the_scaled_size_for_each_image(model, upscaler):
    results = make(model, HiresFix(scale=2, upscaler=upscaler, strength=0.5), batch_size=2)
    assert [r.image.size for r in results] == [(64, 64), (64, 64)]
    assert [r.record.seed for r in results] == [3, 4]


@pytest.mark.parametrize("size, hires, expected", [
    ((32, 16), HiresFix(scale=2), (64, 32)),
    ((32, 32), HiresFix(scale=1.5), (48, 48)),
    ((32, 32), HiresFix(scale=1.3), (40, 40)),                           # 41.6 rounded down to the multiple, 8
    ((32, 32), HiresFix(upscaler="lanczos", resize_x=64, resize_y=48), (64, 48)),  # cover, then crop
    ((32, 32), HiresFix(upscaler="latent", resize_x=48, resize_y=64), (48, 64)),
    ((32, 16), HiresFix(resize_x=96), (96, 48)),                         # the other side from the aspect
    ((32, 16), HiresFix(resize_y=64), (128, 64)),
])
def test_the_final_size(model, size, hires, expected):
    assert make(model, hires, width=size[0], height=size[1])[0].image.size == expected


def test_strength_zero_returns_the_upscaled_latents_decoded(model):
    request = GenerationRequest(PROMPT, steps=2, seed=3)
    first, _ = model.sample_latents([PROMPT], [3], request)
    expected = model.to_images(torch.nn.functional.interpolate(first, size=(16, 16), mode="bilinear"))[0]
    got = make(model, HiresFix(scale=2, upscaler="latent", strength=0))[0].image
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_strength_zero_with_lanczos_is_the_resized_image_after_one_vae_round_trip(model):
    plain = make(model, None)[0].image
    resized = plain.resize((64, 64), Image.Resampling.LANCZOS)
    expected = model.to_images(model.pixels_to_latents(images_to_pixels([resized])))[0]
    got = make(model, HiresFix(scale=2, upscaler="lanczos", strength=0))[0].image
    assert np.array_equal(np.asarray(got), np.asarray(expected))
    redrawn = make(model, HiresFix(scale=2, upscaler="lanczos", strength=0.5))[0].image
    assert not np.array_equal(np.asarray(redrawn), np.asarray(got))   # above 0 the second pass acts


def test_strength_zero_with_the_trained_upscaler_is_its_image_fitted_after_one_vae_round_trip(model,
                                                                                            acting_upscaler_dir):
    upscaler = load_upscaler(acting_upscaler_dir)  # 32 -> 64 px
    enlarged = upscaler.upscale_images([make(model, None)[0].image], [3])[0]
    fitted = enlarged.resize((48, 48), Image.Resampling.LANCZOS)
    expected = model.to_images(model.pixels_to_latents(images_to_pixels([fitted])))[0]
    got = make(model, HiresFix(scale=1.5, upscaler="sr", strength=0, upscaler_model=upscaler))[0].image
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_the_sr_upscaler_needs_its_model_and_its_input_side(model, acting_upscaler_dir):
    upscaler = load_upscaler(acting_upscaler_dir)
    for hires, message in [(HiresFix(upscaler="sr"), "takes a trained upscaler model"),
                           (HiresFix(upscaler="lanczos", upscaler_model=upscaler), "takes a trained upscaler model")]:
        with pytest.raises(HiresError, match=message) as refused:
            make(model, hires)
        assert refused.value.field == "upscaler"
    with pytest.raises(HiresError, match="enlarges 32x32 images; this first pass is 64x64"):
        make(model, HiresFix(upscaler="sr", upscaler_model=upscaler), width=64, height=64)


def test_fit_latents_crops_the_centre_to_the_aspect_before_resizing():
    latents = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(fit_latents(latents, (4, 2), "nearest", False), latents[..., :, 1:3])
    assert torch.equal(fit_latents(latents, (8, 8), "nearest", False),
                       latents.repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_the_record_says_what_the_webui_says_and_survives_the_png(model):
    result = make(model, HiresFix(scale=2, upscaler="lanczos", strength=0.5, steps=4))[0]
    text = result.record.to_parameters_text()
    assert "Size: 32x32" in text   # the first pass's, as the webui records it
    assert "Denoising strength: 0.5, Hires upscale: 2, Hires steps: 4, Hires upscaler: Lanczos" in text
    record = read_labels(labelled_png_bytes(result.image, result.record, watermark=False)).record
    assert record.extra["Hires upscale"] == "2" and record.extra["Hires upscaler"] == "Lanczos"
    resized = make(model, HiresFix(resize_x=64, resize_y=48, strength=0.25))[0].record.extra
    assert resized["Hires resize"] == "64x48" and "Hires upscale" not in resized and "Hires steps" not in resized
    assert resized["Hires upscaler"] == "Latent" and resized["Denoising strength"] == "0.25"


def test_the_callback_counts_both_passes(model):
    seen = []
    hires = HiresFix(scale=2, strength=0.5, steps=6)
    request = GenerationRequest(PROMPT, steps=4, hires=hires)
    model.generate(request, callback=lambda i, x, d: seen.append((i, tuple(x.shape[-2:]))))
    assert seen == [(i, (8, 8)) for i in range(4)] + [(4 + i, (16, 16)) for i in range(3)]
    assert steps_run(request.validated(model.sampling_defaults, model.limits)) == 7
    img2img = GenerationRequest(PROMPT, steps=10, init_image=Image.new("RGB", (32, 32)), strength=0.35)
    assert steps_run(img2img.validated(model.sampling_defaults, model.limits)) == 3


@pytest.mark.parametrize("hires, field", [
    (HiresFix(scale=1), "scale"), (HiresFix(scale=4.5), "scale"), (HiresFix(scale=math.nan), "scale"),
    (HiresFix(scale=True), "scale"), (HiresFix(scale="2"), "scale"), (HiresFix(upscaler="ESRGAN_4x"), "upscaler"),
    (HiresFix(strength=-0.1), "strength"), (HiresFix(strength=1.5), "strength"), (HiresFix(steps=-1), "steps"),
    (HiresFix(steps=1001), "steps"), (HiresFix(steps=2.0), "steps"), (HiresFix(resize_x=-8), "resize"),
    (HiresFix(resize_x=32, resize_y=32), "resize"), (HiresFix(resize_x=256, resize_y=32), "resize"),
    (HiresFix(scale=1.1), "scale"),   # 35.2 rounds down to 32: nothing is enlarged
])
def test_bad_settings_are_refused_by_name(model, hires, field):
    with pytest.raises(HiresError) as refused:
        make(model, hires)
    assert refused.value.field == field


def test_a_final_size_past_the_models_limit_is_refused(model):
    with pytest.raises(HiresError, match="makes 1024x1024 from 256x256; at most 512") as refused:
        make(model, HiresFix(scale=4), width=256, height=256)
    assert refused.value.field == "scale"


def test_what_a_hires_fix_cannot_be_combined_with(model, acting_controlnet_dir):
    image = Image.new("RGB", (32, 32))
    with pytest.raises(ValueError, match="takes no init_image"):
        make(model, HiresFix(), init_image=image)
    with pytest.raises(ValueError, match="ControlNet"):
        make(model, HiresFix(), controls=(Control(load_controlnet(acting_controlnet_dir), image),))
    with pytest.raises(ValueError, match="hires must be a HiresFix"):
        make(model, {"scale": 2})
