"""txt2img's hires fix through the AUTOMATIC1111 API (enable_hr): sizes, the record, and refusals by field."""

from __future__ import annotations

import base64
import json

import pytest

from pixeldrift.pipeline import load_model
from pixeldrift.provenance.label import read_labels
from server_helpers import decode_png, png_base64

SMALL = {"prompt": "two red circles", "steps": 2, "seed": 4, "width": 32, "height": 32}


@pytest.fixture(scope="module")
def tiny(random_model_dir):
    return load_model(random_model_dir)


@pytest.fixture
def client(make_client, tiny):
    return make_client(model=tiny, max_side=128)


def test_enable_hr_enlarges_and_records_as_the_webui(client):
    body = {**SMALL, "batch_size": 2, "enable_hr": True, "hr_scale": 2, "hr_upscaler": "Latent",
            "denoising_strength": 0.5, "hr_second_pass_steps": 0, "hr_resize_x": 0, "hr_resize_y": 0}
    response = client.post("/sdapi/v1/txt2img", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    info = json.loads(answer["info"])
    assert [decode_png(image).size for image in answer["images"]] == [(64, 64), (64, 64)]
    assert (info["width"], info["height"], info["denoising_strength"]) == (32, 32, 0.5)  # the first pass's size
    assert info["warnings"] == []
    assert {k: info["extra_generation_params"][k] for k in ("Denoising strength", "Hires upscale", "Hires upscaler")} \
        == {"Denoising strength": "0.5", "Hires upscale": "2", "Hires upscaler": "Latent"}
    parameters = read_labels(base64.b64decode(answer["images"][0])).parameters
    assert "Size: 32x32" in parameters
    assert "Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: Latent" in parameters
    assert info["infotexts"][0] == parameters and answer["parameters"]["enable_hr"] is True


def test_resize_steps_and_a_pixel_upscaler(client):
    body = {**SMALL, "enable_hr": True, "hr_upscaler": "lanczos", "hr_resize_x": 64, "hr_resize_y": 48,
            "hr_second_pass_steps": 3}   # no denoising_strength: the webui's 0.75
    answer = client.post("/sdapi/v1/txt2img", json=body).json()
    info = json.loads(answer["info"])
    assert decode_png(answer["images"][0]).size == (64, 48)
    assert info["denoising_strength"] == 0.75
    assert "Hires resize: 64x48, Hires steps: 3, Hires upscaler: Lanczos" in info["infotexts"][0]
    job = client.get(f"/api/jobs/{info['job_id']}").json()
    assert job["total_steps"] == job["step"] == 2 + 2   # the first pass, then the last int(3 x 0.75) of 3


def test_hires_fields_are_inert_without_enable_hr_and_noted_on_img2img(client):
    off = client.post("/sdapi/v1/txt2img", json={**SMALL, "hr_scale": 3, "hr_upscaler": "ESRGAN_4x"}).json()
    assert decode_png(off["images"][0]).size == (32, 32) and json.loads(off["info"])["warnings"] == []
    start = decode_png(off["images"][0])
    edited = client.post("/sdapi/v1/img2img", json={**SMALL, "init_images": [png_base64(start)],
                                                     "enable_hr": True, "denoising_strength": 0.5}).json()
    assert decode_png(edited["images"][0]).size == (32, 32)
    assert json.loads(edited["info"])["warnings"] == ["enable_hr=true was ignored: the hires fix is for txt2img"]


def test_second_pass_settings_it_cannot_take_are_noted(client):
    body = {**SMALL, "enable_hr": True, "hr_sampler_name": "Euler", "hr_prompt": "a blue square",
            "hr_checkpoint_name": "Use same checkpoint", "hr_negative_prompt": ""}
    warnings = json.loads(client.post("/sdapi/v1/txt2img", json=body).json()["info"])["warnings"]
    why = "is not supported by pixeldrift and was ignored (the second pass uses the first pass's)"
    assert warnings == [f'hr_sampler_name="Euler" {why}', f'hr_prompt="a blue square" {why}']


@pytest.mark.parametrize("fields, status, param, words", [
    ({"hr_upscaler": "ESRGAN_4x"}, 400, "hr_upscaler", "accepted: Latent, Latent (antialiased)"),
    ({"hr_upscaler": "R-ESRGAN 4x+"}, 400, "hr_upscaler", "Lanczos, Bicubic, Nearest, None"),
    ({"hr_scale": 1}, 400, "hr_scale", "above 1 and at most 4"),
    ({"hr_scale": 4.5}, 400, "hr_scale", "above 1 and at most 4"),
    ({"hr_scale": 4, "width": 64}, 400, "hr_scale", "makes 256x128 from 64x32; at most 128"),
    ({"hr_scale": "two"}, 422, "hr_scale", "valid number"),
    ({"denoising_strength": 1.5}, 400, "denoising_strength", "from 0 to 1"),
    ({"denoising_strength": -0.1}, 400, "denoising_strength", "from 0 to 1"),
    ({"hr_second_pass_steps": -1}, 400, "hr_second_pass_steps", "from 0"),
    ({"hr_second_pass_steps": 100000}, 400, "hr_second_pass_steps", "on this server"),
    ({"hr_resize_x": -64}, 400, "hr_resize_x", "a size in pixels"),
    ({"hr_resize_y": 160, "width": 48, "height": 48}, 400, "hr_resize_y", "makes 160x160 from 48x48; at most 128"),
    ({"hr_resize_y": 256}, 400, "hr_resize_y", "at most 4 times"),
    ({"hr_resize_x": 32, "hr_resize_y": 32}, 400, "hr_resize_x", "enlarges by more than 1"),
])
def test_bad_hires_values_are_refused_naming_the_field(client, fields, status, param, words):
    response = client.post("/sdapi/v1/txt2img", json={**SMALL, "enable_hr": True, **fields})
    assert response.status_code == status, response.text
    assert response.json()["param"] == param and words in response.json()["detail"], response.json()
    assert client.get("/api/gallery").json()["total"] == 0   # nothing was queued


def test_the_largest_size_the_server_allows_is_made(client):
    answer = client.post("/sdapi/v1/txt2img", json={**SMALL, "steps": 1, "enable_hr": True, "hr_scale": 4}).json()
    assert decode_png(answer["images"][0]).size == (128, 128)   # 4 x 32 = the server's max_side


def test_the_listings_name_the_upscalers_it_takes(client):
    assert [u["name"] for u in client.get("/sdapi/v1/upscalers").json()] == ["None", "Lanczos", "Bicubic", "Nearest"]
    modes = [m["name"] for m in client.get("/sdapi/v1/latent-upscale-modes").json()]
    assert modes[0] == "Latent" and "Latent (nearest-exact)" in modes and len(modes) == 6
