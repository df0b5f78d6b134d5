"""Our pipeline on a Stable Diffusion model gives diffusers' pipeline output, to 1e-3.

The tiny random SD 1.x, SD 2.x-v and SDXL models run on both sides; diffusers_reference.py
says what makes the two sides' schedulers agree.
"""

import diffusers
import pytest

from diffusers_reference import PROMPT, SCHEDULERS, assert_close, request_for, their_pixels
from pixeldrift.pretrained import open_model
from tiny_sd_models import final_pixels


@pytest.mark.parametrize("case", sorted(SCHEDULERS))
def test_sd1_matches_stable_diffusion_pipeline(sd1_folder, case):
    model = open_model(sd1_folder)
    request = request_for(case, 32)
    theirs = their_pixels(diffusers.StableDiffusionPipeline, sd1_folder, model, request, case, safety_checker=None)
    assert_close(final_pixels(model, request), theirs)


@pytest.mark.parametrize("case", ["ddim", "euler", "dpmpp_2m"])
def test_v_prediction_matches_stable_diffusion_pipeline(sd2v_folder, case):
    model = open_model(sd2v_folder)
    assert model.family.prediction == "v_prediction"
    request = request_for(case, 32)
    theirs = their_pixels(diffusers.StableDiffusionPipeline, sd2v_folder, model, request, case,
                          safety_checker=None)
    assert_close(final_pixels(model, request), theirs)


@pytest.mark.parametrize("case", ["ddim", "euler", "dpmpp_2m"])
def test_sdxl_matches_stable_diffusion_xl_pipeline(sdxl_folder, case):
    model = open_model(sdxl_folder)
    request = request_for(case, 64, steps=3)
    theirs = their_pixels(diffusers.StableDiffusionXLPipeline, sdxl_folder, model, request, case)
    assert_close(final_pixels(model, request), theirs)


def test_sdxl_size_conditioning_changes_the_image(sdxl_folder):
    """time_ids reach the UNet: a non-square request differs from the same noise under other size ids."""
    model = open_model(sdxl_folder)
    request = request_for("euler", 64, steps=2)
    cond, _ = model.condition([PROMPT], [""], request.validated(model.sampling_defaults, model.limits))
    assert cond["time_ids"].tolist() == [[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]]
    assert cond["pooled"].shape == (1, 24) and cond["context"].shape == (1, 77, 48)
