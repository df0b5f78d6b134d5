"""ControlNets and plan-then-draw in the studio's own API (POST /api/jobs controls and plan, /api/control/map)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pixeldrift.pipeline import load_model
from pixeldrift.pipeline.control_maps import edges
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.provenance.label import read_labels
from pixeldrift.server.control_catalog import ControlCatalog
from server_helpers import decode_png, png_base64, wait_job

PROMPT = "two red circles left of a blue square"


@pytest.fixture(scope="module")
def tiny(random_model_dir):
    return load_model(random_model_dir)


@pytest.fixture(scope="module")
def acting(acting_controlnet_dir):
    """A layout ControlNet for `tiny` whose zero convolutions are not zero, so it changes the image."""
    return load_controlnet(acting_controlnet_dir)


@pytest.fixture
def tiny_client(make_client, tiny, acting):
    return make_client(model=tiny, controls=ControlCatalog.of(acting), watermark=False)


def shapes(size: int = 32, seed: int = 0) -> Image.Image:
    pixels = np.zeros((size, size, 3), np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        x, y = rng.integers(0, size - size // 4, 2)
        pixels[y:y + size // 4, x:x + size // 4] = rng.integers(64, 255, 3)
    return Image.fromarray(pixels)


def control(**fields) -> dict:
    return {"model": "cn", "image": png_base64(shapes()), **fields}


def job_images(client, **fields) -> tuple[dict, list[np.ndarray]]:
    body = {"prompt": "a red circle", "steps": 3, "seed": 7, "width": 32, "height": 32, **fields}
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    files = [client.get(f"/api/gallery/{i}/image.png").content for i in job["images"]]
    return job, [np.asarray(Image.open(io.BytesIO(f)).convert("RGB")).astype(int) for f in files]


def test_a_control_steers_the_image_and_is_recorded(tiny_client):
    _, plain = job_images(tiny_client)
    job, steered = job_images(tiny_client, controls=[control(weight=1.5, start=0.0, end=0.8, module="edges")])
    assert np.abs(steered[0] - plain[0]).mean() > 1
    row = tiny_client.get(f"/api/gallery/{job['images'][0]}").json()
    assert row["settings"]["controls"] == [{"model": "cn", "module": "edges", "weight": 1.5, "guidance_start": 0.0,
                                            "guidance_end": 0.8}]
    _, again = job_images(tiny_client, controls=[control(weight=1.5, start=0.0, end=0.8, module="edges")])
    assert np.array_equal(again[0], steered[0])
    _, off = job_images(tiny_client, controls=[control(weight=0.0)])
    assert np.array_equal(off[0], plain[0])  # strength 0 is the base model


def test_the_map_endpoint_answers_the_map_a_job_reads(tiny_client):
    image = shapes(48, seed=2)
    answer = tiny_client.post("/api/control/map", json={"image": png_base64(image), "module": "Edges",
                                                        "width": 32, "height": 32, "resize": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["module"] == "edges" and (body["width"], body["height"]) == (32, 32)
    made = np.asarray(decode_png(body["map"].removeprefix("data:image/png;base64,")).convert("RGB"))
    expected = edges(np.asarray(image.resize((32, 32), Image.Resampling.LANCZOS)))
    assert np.array_equal(made, expected) and made.any()


def test_a_map_of_another_size_is_resized_only_when_asked(tiny_client):
    wide = png_base64(shapes(48).crop((0, 0, 48, 24)))
    refused = tiny_client.post("/api/jobs", json={"prompt": "x", "width": 32, "height": 32,
                                                  "controls": [control(image=wide)]})
    assert refused.status_code == 400 and refused.json()["param"] == "controls.0.image"
    assert refused.json()["detail"] == ("controls.0.image is 48x24 but the image to generate is 32x32; send a map "
                                        "of that size, or send resize: true to have it resized to that size")
    job, _ = job_images(tiny_client, controls=[control(image=wide, resize=True)])
    assert job["status"] == "succeeded"
    preview = tiny_client.post("/api/control/map", json={"image": wide, "width": 32, "height": 32})
    assert preview.status_code == 400 and preview.json()["param"] == "image" and "is 48x24" in \
        preview.json()["detail"]


BAD_CONTROLS = [  # (control fields, status, field, words in the message)
    ({"module": "depth"}, 400, "controls.0.module",
     "unknown module 'depth'; pixeldrift's modules are: none, canny, invert, edges, scribble"),
    ({"model": "cn-canny"}, 400, "controls.0.model", "unknown ControlNet model 'cn-canny'; this server has: cn"),
    ({"image": None}, 400, "controls.0.image", "controls.0.image: a control needs an image"),
    ({"image": "not base64!"}, 400, "controls.0.image", "is not valid base64"),
    ({"image": "https://example.com/map.png"}, 400, "controls.0.image", "images are never fetched"),
    ({"start": 0.6, "end": 0.4}, 400, "controls.0.start", "controls.0: start (0.6) must come before end (0.4)"),
    ({"weight": 3}, 422, "controls.0.weight", "less than or equal to 2"),
    ({"resize": "yes"}, 422, "controls.0.resize", "valid boolean"),
    ({"strength": 1}, 422, "controls.0.strength", "Extra inputs are not permitted"),
]


@pytest.mark.parametrize("fields,status,field,message", BAD_CONTROLS)
def test_bad_controls_are_refused_naming_the_field(tiny_client, fields, status, field, message):
    response = tiny_client.post("/api/jobs", json={"prompt": "x", "width": 32, "height": 32,
                                                   "controls": [control(**fields)]})
    assert response.status_code == status, response.text
    assert response.json()["param"] == field and message in response.json()["detail"]


def test_too_many_controls_and_an_unknown_map_module_are_refused(tiny_client):
    five = tiny_client.post("/api/jobs", json={"prompt": "x", "controls": [control()] * 5})
    assert five.status_code == 422 and five.json()["param"] == "controls"
    bad = tiny_client.post("/api/control/map", json={"image": png_base64(shapes()), "module": "depth",
                                                     "width": 32, "height": 32})
    assert bad.status_code == 400 and bad.json()["param"] == "module" and "none, canny, invert, edges, scribble" \
        in bad.json()["detail"]
    huge = tiny_client.post("/api/control/map", json={"image": png_base64(shapes()), "width": 4096, "height": 32})
    assert huge.status_code == 400 and huge.json()["param"] == "width"


def test_a_controlnet_for_another_model_is_refused_naming_both(make_client, default_model, tiny, acting):
    client = make_client(models={"pixeldrift-cpu": default_model, "tiny-random": tiny},
                         controls=ControlCatalog.of(acting))
    info = client.get("/api/info").json()
    assert info["controls"] == [{"name": "cn", "kind": "layout", "models": ["tiny-random"]}]
    assert info["control_modules"] == ["none", "canny", "invert", "edges", "scribble"]
    refused = client.post("/api/jobs", json={"prompt": "x", "model": "pixeldrift-cpu",
                                             "controls": [control(image=png_base64(shapes(64)))]})
    assert refused.status_code == 400 and refused.json()["param"] == "controls.0.model"
    assert "was trained on the model 'tiny-random'" in refused.json()["detail"] and \
        "not on 'pixeldrift-cpu'" in refused.json()["detail"]
    planned = client.post("/api/jobs", json={"prompt": PROMPT, "model": "pixeldrift-cpu", "plan": True})
    assert planned.status_code == 400 and planned.json()["param"] == "plan"
    assert planned.json()["detail"].startswith("plan-then-draw needs a layout ControlNet that steers the model "
                                               "'pixeldrift-cpu'; this server has cn (layout, steers tiny-random)")


def test_plan_then_draw_reports_each_images_plan(tiny_client):
    _, plain = job_images(tiny_client, prompt=PROMPT, batch_size=2)
    job, planned = job_images(tiny_client, prompt=PROMPT, batch_size=2, plan=True)
    assert [p["seed"] for p in job["plans"]] == [7, 8]
    for plan in job["plans"]:
        assert sorted(o["label"] for o in plan["objects"]) == ["blue square", "red circle", "red circle"]
        assert all(0 <= v <= 32 for o in plan["objects"] for v in o["box"]) and plan["size"] == 32
    assert job["plans"][0]["objects"] != job["plans"][1]["objects"]   # each image laid out with its own seed
    assert np.abs(planned[0] - plain[0]).mean() > 1
    for image_id in job["images"]:
        row = tiny_client.get(f"/api/gallery/{image_id}").json()
        assert row["settings"]["plan"] == next(p for p in job["plans"] if p["seed"] == row["seed"])
        assert row["settings"]["controls"][0]["module"] == "layout"
        png = tiny_client.get(f"/api/gallery/{image_id}/image.png").content
        assert f"Plan: prompt seed {row['seed']}; 3 objects; layout map" in read_labels(png).parameters


@pytest.mark.parametrize("fields,field,message", [
    ({"prompt": "a cat on a sofa"}, "prompt", "the prompt cannot be planned"),
    ({"width": 32, "height": 64}, "width", "plan-then-draw makes square images; got 32x64"),
    ({"kind": "grid", "x_axis": "steps=2,3"}, "plan", "a grid job cannot take it"),
])
def test_plans_that_cannot_be_made_are_refused(tiny_client, fields, field, message):
    body = {"prompt": PROMPT, "width": 32, "height": 32, "plan": True, **fields}
    response = tiny_client.post("/api/jobs", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["param"] == field and message in response.json()["detail"]
