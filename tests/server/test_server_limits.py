"""Every request field and every body is bounded before any work is done on it (issue 15's DoS)."""

from __future__ import annotations

import asyncio
import json

import pytest
from PIL import Image

from pixeldrift.server import ServerSettings, job_request
from pixeldrift.server.guard import RequestGuard
from server_helpers import png_base64

MIB = 1 << 20
SMALL = png_base64(Image.new("RGB", (64, 64), "white"))


@pytest.fixture
def moderated(monkeypatch) -> list[int]:
    """The lengths of the prompts moderation was asked to read."""
    seen = []
    real = job_request.enforce_prompt
    monkeypatch.setattr(job_request, "enforce_prompt", lambda text: (seen.append(len(text)), real(text)))
    return seen


def detail(response) -> tuple[str, str | None]:
    body = response.json()
    if "error" in body and isinstance(body["error"], dict):   # OpenAI's shape
        return body["error"]["message"], body["error"]["param"]
    return body["detail"], body.get("param")


@pytest.mark.parametrize("path,body", [
    ("/api/jobs", {"prompt": "x" * 100_000}),
    ("/api/jobs", {"prompt": "x" * MIB}),
    ("/api/jobs", {"prompt": "a star", "negative_prompt": "x" * MIB}),
    ("/api/jobs", {"prompt": "a star", "sampler": "x" * 100_000}),
    ("/api/jobs", {"prompt": "a star", "kind": "grid", "x_axis": "steps=" + "1," * 100_000}),
    ("/sdapi/v1/txt2img", {"prompt": "x" * 100_000}),
    ("/sdapi/v1/txt2img", {"prompt": "a star", "scheduler": "x" * 100_000}),
    ("/sdapi/v1/img2img", {"prompt": "x" * MIB, "init_images": [SMALL]}),
    ("/v1/images/generations", {"prompt": "x" * 100_000}),
    ("/v1/images/generations", {"prompt": "a star", "size": "x" * 100_000}),
])
def test_a_long_field_is_refused_naming_it_before_moderation_reads_it(client, moderated, path, body):
    response = client.post(path, json=body)
    assert 400 <= response.status_code < 500, response.text
    message, param = detail(response)
    field = next(name for name, value in body.items() if len(str(value)) >= 100_000)
    assert field in message and param == field, (message, param)
    assert moderated == [] and client.get("/api/jobs").json()["jobs"] == []


def test_a_long_prompt_in_an_edit_form_is_refused_naming_it(client, moderated):
    response = client.post("/v1/images/edits", data={"prompt": "x" * 100_000},
                           files={"image": ("a.png", Image.new("RGB", (8, 8)).tobytes(), "image/png")})
    assert response.status_code == 400 and response.json()["error"]["param"] == "prompt"
    assert moderated == []


# (txt2img takes ControlNet units' images, so it has the upload limit: test_server_bad_input.py)
@pytest.mark.parametrize("path", ["/v1/images/generations", "/sdapi/v1/options"])
def test_text_only_routes_refuse_a_large_body_from_its_length(client, moderated, path):
    response = client.post(path, content=json.dumps({"prompt": "x" * MIB}),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and f"larger than {MIB} bytes" in detail(response)[0]

    def chunks():   # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b" " * 32_768
    response = client.post(path, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and moderated == []


def test_too_many_unknown_fields_are_refused(client):
    body = {"prompt": "a star", **{f"field{i}": 1 for i in range(500)}}
    response = client.post("/sdapi/v1/txt2img", json=body)
    assert response.status_code == 400 and "500 unknown fields" in response.json()["detail"]


async def _post(guard, size: int) -> int:
    """One request of `size` body bytes through the guard; returns the status it was answered."""
    chunks = [{"type": "http.request", "body": b"x" * size, "more_body": False}]
    sent = []

    async def receive():
        return chunks.pop() if chunks else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "POST", "path": "/api/jobs", "headers": [
        (b"host", b"127.0.0.1:7860"), (b"content-length", str(size).encode())]}
    await guard(scope, receive, send)
    return sent[0]["status"]


def test_bodies_in_flight_share_a_budget(tmp_path):
    """A second large body while the first is held gets 429; once the first is answered, it fits again."""
    async def scenario() -> list[int]:
        holding, release = asyncio.Event(), asyncio.Event()

        async def app(scope, receive, send):
            await receive()
            holding.set()
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})
        settings = ServerSettings(gallery_dir=tmp_path, max_body_bytes=1000, max_body_bytes_in_flight=1500)
        guard = RequestGuard(app, settings)
        first = asyncio.create_task(_post(guard, 800))
        await holding.wait()
        second = await _post(guard, 800)
        release.set()
        statuses = [await first, second, await _post(guard, 800)]
        return statuses + [guard.in_flight]
    assert asyncio.run(scenario()) == [200, 429, 200, 0]
