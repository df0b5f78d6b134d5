"""Our samplers with SD ControlNets give diffusers' ControlNet pipelines' output, to 1e-3.

Tiny random SD 1.x / SDXL models and tiny random ControlNets (their zero convolutions
drawn at random, so the control changes the image) run on both sides from the same
latents, with the schedulers of diffusers_reference.py. ControlNet (Zhang, Rao &
Agrawala 2023) adds its residuals inside classifier-free guidance, to both halves, as
diffusers does without guess mode; strength is diffusers' controlnet_conditioning_scale,
start/end its control_guidance_start/end.
"""

from dataclasses import replace

import diffusers
import numpy as np
import pytest
from PIL import Image

from diffusers_reference import assert_close, request_for, their_pixels
from pixeldrift.pipeline.control import Control
from pixeldrift.pretrained import open_controlnet, open_model
from tiny_sd_models import final_pixels



def close(label: str, ours, theirs) -> None:
    """assert_close, printing the measured difference (pytest -s shows it)."""
    print(f"{label}: max |ours - diffusers| = {assert_close(ours, theirs):.2e}")


def hint(size: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


def controlled_pair(model, folder, controls, case, pipeline_class, size=32, steps=4, **options):
    """(ours, theirs) for the same request with `controls` (Control entries whose models are open SD ControlNets)."""
    request = replace(request_for(case, size, steps), controls=tuple(controls))
    nets = [diffusers.ControlNetModel.from_pretrained(c.model.source) for c in controls]
    call = {"image": [c.image for c in controls] if len(controls) > 1 else controls[0].image,
            "controlnet_conditioning_scale": [c.strength for c in controls] if len(controls) > 1
            else controls[0].strength,
            "control_guidance_start": [c.start for c in controls], "control_guidance_end": [c.end for c in controls]}
    theirs = their_pixels(pipeline_class, folder, model, request, case, call=call,
                          controlnet=nets if len(nets) > 1 else nets[0], **options)
    ours = final_pixels(model, request)
    plain = final_pixels(model, replace(request, controls=()))
    effect = (ours - plain).abs().max().item()
    print(f"control effect {effect:.3f}")
    assert effect > 0.05, "the control hardly changes the image: the comparison proves little"
    return ours, theirs


@pytest.mark.parametrize("case", ["ddim", "euler", "dpmpp_2m"])
def test_one_controlnet_matches_the_controlnet_pipeline(sd1_folder, sd1_controlnet, case):
    model = open_model(sd1_folder)
    control = Control(open_controlnet(sd1_controlnet, base=model), hint(32), strength=0.8)
    ours, theirs = controlled_pair(model, sd1_folder, [control], case, diffusers.StableDiffusionControlNetPipeline,
                                   safety_checker=None)
    close(f"sd1 {case}", ours, theirs)


@pytest.mark.parametrize("case", ["ddim", "dpmpp_2m"])
def test_guidance_start_and_end_match(sd1_folder, sd1_controlnet, case):
    """Active from 25% to 75% of 8 steps: steps 2 to 5, chosen by sigma on our side and by index on theirs."""
    model = open_model(sd1_folder)
    control = Control(open_controlnet(sd1_controlnet, base=model), hint(32), strength=1.2, start=0.25, end=0.75)
    ours, theirs = controlled_pair(model, sd1_folder, [control], case, diffusers.StableDiffusionControlNetPipeline,
                                   steps=8, safety_checker=None)
    close(f"sd1 start/end {case}", ours, theirs)


def test_two_controlnets_match_multi_controlnet(sd1_folder, sd1_controlnet, sd1_controlnet_2):
    model = open_model(sd1_folder)
    first = Control(open_controlnet(sd1_controlnet, base=model), hint(32, 1), strength=0.7, end=0.5)
    second = Control(open_controlnet(sd1_controlnet_2, base=model), hint(32, 2), strength=1.1, start=0.25)
    ours, theirs = controlled_pair(model, sd1_folder, [first, second], "euler",
                                   diffusers.StableDiffusionControlNetPipeline, safety_checker=None)
    close("sd1 two controlnets", ours, theirs)


def test_a_resized_control_image_matches_diffusers_resize(sd1_folder, sd1_controlnet):
    """Asked to resize, a 24x40 map is resized as diffusers' control image processor does (Lanczos)."""
    model = open_model(sd1_folder)
    small = hint(40).crop((0, 0, 24, 40))
    control = Control(open_controlnet(sd1_controlnet, base=model), small, resize=True)
    ours, theirs = controlled_pair(model, sd1_folder, [control], "ddim", diffusers.StableDiffusionControlNetPipeline,
                                   safety_checker=None)
    close("sd1 resized map", ours, theirs)


@pytest.mark.parametrize("case", ["euler", "dpmpp_2m"])
def test_sdxl_controlnet_matches_the_sdxl_controlnet_pipeline(sdxl_folder, sdxl_controlnet, case):
    model = open_model(sdxl_folder)
    control = Control(open_controlnet(sdxl_controlnet, base=model), hint(64), strength=0.9)
    ours, theirs = controlled_pair(model, sdxl_folder, [control], case,
                                   diffusers.StableDiffusionXLControlNetPipeline, size=64, steps=3)
    close(f"sdxl {case}", ours, theirs)


def test_v_prediction_controlnet_matches(sd2v_folder, tmp_path):
    """SD 2.x-v: the same residuals inside the v-prediction adapter."""
    from tiny_sd_models import make_controlnet

    model = open_model(sd2v_folder)
    folder = make_controlnet(tmp_path / "controlnet-sd2v", sd2v_folder, seed=2)
    control = Control(open_controlnet(folder, base=model), hint(32, 3))
    ours, theirs = controlled_pair(model, sd2v_folder, [control], "ddim", diffusers.StableDiffusionControlNetPipeline,
                                   safety_checker=None)
    close("sd2-v ddim", ours, theirs)
