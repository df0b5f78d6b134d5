"""Bad input of every kind gets a 4xx with a clear JSON error, and the server keeps serving."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from pixeldrift.server import ServerSettings
from server_helpers import png_base64

SMALL = png_base64(Image.new("RGB", (64, 64), "white"))
NOISE = png_base64(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))


def bomb_png() -> str:
    """A PNG of a few kilobytes that would decode to 25 million pixels."""
    buffer = io.BytesIO()
    Image.new("1", (5000, 5000)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("body,status,message", [
    ({"prompt": "x", "width": 100000}, 400, "width must be a multiple of 16 from 16 to 512"),
    ({"prompt": "x", "height": 1024}, 400, "height must be a multiple of 16 from 16 to 512"),
    ({"prompt": "x", "steps": 100000}, 400, "steps must be an integer from 1 to 150 on this server"),
    ({"prompt": "x", "steps": 0}, 400, "steps must be an integer from 1 to 150"),
    ({"prompt": "x", "batch_size": 1000}, 400, "at most 16 images per request"),
    ({"prompt": "x", "steps": "20"}, 422, "steps: Input should be a valid integer"),
    ({"prompt": 7}, 422, "prompt: Input should be a valid string"),
    ({"prompt": "x", "guidance": "high"}, 422, "guidance: Input should be a valid number"),
    ({"prompt": "x", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ({}, 422, "prompt: Field required"),
    ({"prompt": "   "}, 400, "the prompt is empty"),
    ({"prompt": "x", "sampler": "magic"}, 400, "unknown sampler 'magic'"),
    ({"prompt": "x", "schedule": "zigzag"}, 400, "unknown scheduler 'zigzag'"),
    ({"prompt": "x", "schedule": "leading"}, 400, "needs a model with discrete training timesteps"),
    ({"prompt": "x", "model": "sd-xl"}, 400, "unknown model 'sd-xl'; this server has: pixeldrift-cpu"),
    ({"prompt": "x", "kind": "outpaint"}, 422, "kind: Input should be"),
    ({"prompt": "x", "seed": -5}, 400, "seed must be an integer from 0"),
    ({"prompt": "x", "kind": "img2img"}, 400, "needs an init image"),
    ({"prompt": "x", "kind": "inpaint", "init_image": SMALL}, 400, "needs a mask"),
    ({"prompt": "x", "init_image": SMALL}, 400, "a txt2img job takes no init image"),
    ({"prompt": "x", "kind": "img2img", "init_image": "%%%"}, 400, "init_image is not valid base64"),
    ({"prompt": "x", "kind": "img2img", "init_image": NOISE[:400]}, 400, "init_image: damaged or truncated image"),
    ({"prompt": "x", "kind": "img2img", "init_image": base64.b64encode(b"just text").decode()}, 400,
     "not an image in a format accepted here"),
    ({"prompt": "x", "kind": "img2img", "init_image": bomb_png()}, 400, "decompression-bomb guard"),
    ({"prompt": "x", "kind": "img2img", "init_image": "https://example.com/cat.png"}, 400, "never fetched"),
    ({"prompt": "x", "kind": "img2img", "init_image": "file:///etc/passwd"}, 400, "never fetched"),
    ({"prompt": "x", "kind": "img2img", "init_image": "/etc/passwd"}, 400, "looks like a file path"),
    ({"prompt": "x", "kind": "img2img", "init_image": "../../../etc/passwd"}, 400, "looks like a file path"),
    ({"prompt": "x", "kind": "inpaint", "init_image": SMALL, "mask": png_base64(Image.new("L", (32, 32)))},
     400, "the mask is 32x32 but the image is 64x64"),
    ({"prompt": "x", "kind": "grid"}, 400, "needs at least one axis"),
    ({"prompt": "x", "x_axis": "steps=1,2"}, 400, "only for a grid job"),
    ({"prompt": "a nude child"}, 400, "prompt refused by policy category"),
])
def test_bad_job_requests_are_refused_with_the_reason(client, body, status, message):
    response = client.post("/api/jobs", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert client.get("/api/info").status_code == 200
    assert client.get("/api/jobs").json()["jobs"] == []  # nothing was queued


@pytest.mark.parametrize("content,message", [
    (b"{not json", "malformed JSON body"),
    (b'{"prompt": "x",}', "malformed JSON body"),
    (b"\xff\xfe\x00", "malformed JSON body"),
])
def test_malformed_json_is_a_400(client, content, message):
    for path in ("/api/jobs", "/sdapi/v1/txt2img", "/v1/images/generations"):
        response = client.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert message in response.text


@pytest.mark.parametrize("path", [
    "/api/gallery/../../../etc/passwd",
    "/api/gallery/..%2F..%2F..%2Fetc%2Fpasswd/image.png",
    "/api/gallery/%2e%2e/%2e%2e/pyproject.toml",
    "/api/gallery/....//....//etc/passwd/image.png",
    "/static/../../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2f..%2f..%2fpyproject.toml",
    "/static//etc/passwd",
    "/api/jobs/..%2f..%2fgallery.sqlite3/preview.png",
    "/api/gallery/gallery.sqlite3/image.png",
])
def test_paths_never_reach_files_outside_the_gallery(client, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert b"root:" not in response.content and b"[build-system]" not in response.content
    assert b"SQLite format" not in response.content


def test_cross_site_requests_are_refused(client):
    cases = [({"Origin": "http://evil.example"}, "does not match Host"),
             ({"Origin": "null"}, "does not match Host"),
             ({"Origin": "http://127.0.0.1:9999"}, "does not match Host"),
             ({"Host": "evil.example"}, "DNS-rebinding guard"),
             ({"Host": "attacker.test:7860", "Origin": "http://attacker.test:7860"}, "DNS-rebinding guard"),
             ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, "cross-site request refused")]
    for headers, message in cases:
        response = client.post("/api/jobs", json={"prompt": "x", "steps": 2}, headers=headers)
        assert response.status_code == 403 and message in response.json()["detail"], (headers, response.text)
    same_site = client.post("/api/jobs", json={"prompt": "x", "steps": 2}, headers={"Origin": "http://127.0.0.1:7860"})
    assert same_site.status_code == 202
    assert client.get("/api/jobs").json()["jobs"][0]["id"] == same_site.json()["id"]  # only that one queued


def test_token_is_required_when_set(make_client):
    client = make_client(token="s3cret-token")
    assert client.get("/api/info").status_code == 401
    assert client.get("/api/info", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get("/api/info", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    client.cookies.set("pixeldrift_token", "s3cret-token")
    assert client.get("/sdapi/v1/sd-models").status_code == 200
    client.cookies.clear()
    assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200  # page shell
    openai_shape = client.post("/v1/images/generations", json={"prompt": "x"}).json()
    assert "token" in openai_shape["error"]["message"]


def test_binding_beyond_loopback_needs_a_token(tmp_path):
    with pytest.raises(ValueError, match="give an API token"):
        ServerSettings(host="0.0.0.0", gallery_dir=tmp_path)
    assert not ServerSettings(host="0.0.0.0", token="long-enough", gallery_dir=tmp_path).is_loopback
    assert ServerSettings(host="::1", gallery_dir=tmp_path).is_loopback


def test_oversized_bodies_are_413(make_client):
    client = make_client(max_body_bytes=10_000)
    response = client.post("/api/jobs", json={"prompt": "x", "kind": "img2img", "init_image": "A" * 20_000})
    assert response.status_code == 413 and "larger than 10000 bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: counted while it is read
        for _ in range(20):
            yield b" " * 1000
    response = client.post("/api/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_a1111_and_openai_bad_input(client):
    a1111 = client.post("/sdapi/v1/img2img", json={"prompt": "x", "init_images": ["http://x/y.png"]})
    assert a1111.status_code == 400 and "never fetched" in a1111.json()["detail"]
    assert client.post("/sdapi/v1/img2img", json={"prompt": "x"}).status_code == 400
    sampler = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "sampler_name": "Euler z"})
    assert sampler.status_code == 400 and "Euler a" in sampler.json()["detail"]
    steps = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "steps": "many"})
    assert steps.status_code == 422 and "steps" in steps.json()["detail"]
    too_many = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "batch_size": 4, "n_iter": 5})
    assert too_many.status_code == 400 and "4 x 5" in too_many.json()["detail"]
    size = client.post("/v1/images/generations", json={"prompt": "x", "size": "4096x4096"})
    assert size.status_code == 400 and size.json()["error"]["type"] == "invalid_request_error"
    assert "from 1x1 to 2048x2048" in size.json()["error"]["message"] and size.json()["error"]["param"] == "size"
    model = client.post("/v1/images/generations", json={"prompt": "x", "model": "my-model"})
    assert model.status_code == 400 and model.json()["error"]["message"].startswith("unknown model")
    edit = client.post("/v1/images/edits", data={"prompt": "x", "image": "https://example.com/a.png"},
                       files={"unused": ("a.txt", b"x")})
    assert edit.status_code == 400 and "never fetched" in edit.json()["error"]["message"]
    text = client.post("/v1/images/edits", data={"prompt": "x"}, files={"image": ("a.png", b"not a png")})
    assert text.status_code == 400 and "not an image" in text.json()["error"]["message"]
    assert client.post("/v1/images/edits", json={"prompt": "x"}).status_code == 400
    assert client.get("/api/info").status_code == 200


def test_routes_that_take_control_images_have_the_upload_limit_not_the_text_one(make_client):
    client = make_client(max_body_bytes=3_000_000, max_text_body_bytes=10_000)
    big = "A" * 20_000  # over the text limit, under the upload one: refused for what it is, not for its size
    for path in ("/sdapi/v1/txt2img", "/controlnet/detect"):
        response = client.post(path, json={"prompt": "x", "controlnet_module": "none", "controlnet_input_images": [big],
                                           "padding": big})
        assert response.status_code != 413, (path, response.text)
    assert client.post("/sdapi/v1/options", json={"padding": big}).status_code == 413
    over = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "padding": "A" * 3_100_000})
    assert over.status_code == 413 and "larger than 3000000 bytes" in over.json()["detail"]
