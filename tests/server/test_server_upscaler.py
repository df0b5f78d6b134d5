"""A trained upscaler on the server (`serve --upscaler`): listed at /sdapi/v1/upscalers, the hires fix's "SR3" on
txt2img, and OpenAI sizes above the model's own drawn at its size and enlarged by it; refused by field without one."""

from __future__ import annotations

import base64
import json

import pytest

from pixeldrift.pipeline import load_model
from pixeldrift.provenance.label import read_labels
from server_helpers import decode_png

SMALL = {"prompt": "two red circles", "steps": 2, "seed": 4, "width": 32, "height": 32}


@pytest.fixture(scope="module")
def tiny(random_model_dir):
    return load_model(random_model_dir)  # draws 32 px


@pytest.fixture
def served(make_client, tiny, acting_upscaler_dir):
    return make_client(model=tiny, max_side=128, upscaler_path=acting_upscaler_dir)  # the upscaler: 32 -> 64 px


def test_the_upscalers_route_lists_the_trained_one_only_where_served(served, make_client, tiny, acting_upscaler_dir):
    listed = {row["name"]: row for row in served.get("/sdapi/v1/upscalers").json()}
    assert listed["SR3"] == {"name": "SR3", "model_name": "tiny-sr", "model_path": str(acting_upscaler_dir),
                             "model_url": None, "scale": 2}
    assert "Lanczos" in listed
    plain = make_client(model=tiny).get("/sdapi/v1/upscalers").json()
    assert "SR3" not in [row["name"] for row in plain]


def test_enable_hr_with_sr3_enlarges_by_the_trained_model(served):
    body = {**SMALL, "enable_hr": True, "hr_scale": 2, "hr_upscaler": "SR3", "denoising_strength": 0.3}
    response = served.post("/sdapi/v1/txt2img", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert decode_png(answer["images"][0]).size == (64, 64)
    parameters = read_labels(base64.b64decode(answer["images"][0])).parameters
    assert "Hires upscaler: SR3, Hires upscaler model: tiny-sr" in parameters
    job = served.get(f"/api/jobs/{json.loads(answer['info'])['job_id']}").json()
    assert job["status"] == "succeeded"


def test_sr3_is_refused_by_field_without_an_upscaler_or_for_another_first_pass(served, make_client, tiny):
    body = {**SMALL, "enable_hr": True, "hr_scale": 2, "hr_upscaler": "SR3"}
    plain = make_client(model=tiny, max_side=128).post("/sdapi/v1/txt2img", json=body)
    assert plain.status_code == 400 and "pixeldrift serve --upscaler" in plain.text
    other = served.post("/sdapi/v1/txt2img", json={**body, "width": 48, "height": 48})
    assert other.status_code == 400 and "enlarges 32x32 images; this first pass is 48x48" in other.text
    assert "hr_upscaler" in other.text


def test_an_openai_size_above_the_models_own_is_enlarged_by_the_upscaler_then_resized(served):
    response = served.post("/v1/images/generations", json={"prompt": "a red circle", "size": "128x128",
                                                           "response_format": "b64_json"})
    assert response.status_code == 200, response.text
    answer = response.json()
    png = base64.b64decode(answer["data"][0]["b64_json"])
    assert decode_png(answer["data"][0]["b64_json"]).size == (128, 128) and answer["size"] == "128x128"
    assert read_labels(png).record.extra["Resized to"] == "128x128 from 32x32 by the upscaler tiny-sr to 64x64 then " \
                                                          "by Lanczos"
    note = ("tiny-random draws 32x32: the image was drawn at that size, enlarged to 64x64 by the upscaler 'tiny-sr' "
            "and resized to 128x128 with Lanczos resampling")
    assert note in answer["pixeldrift_warnings"]
    exact = served.post("/v1/images/generations", json={"prompt": "a red circle", "size": "64x64"}).json()
    assert read_labels(base64.b64decode(exact["data"][0]["b64_json"])).record.extra["Resized to"] == \
        "64x64 from 32x32 by the upscaler tiny-sr to 64x64"
    wide = served.post("/v1/images/generations", json={"prompt": "a red circle", "size": "64x32"}).json()
    assert "Resized to" not in read_labels(base64.b64decode(wide["data"][0]["b64_json"])).record.extra  # native
