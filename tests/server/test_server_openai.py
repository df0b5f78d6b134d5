"""The OpenAI Images endpoints, driven by the official `openai` client pointed at a live server."""

from __future__ import annotations

import base64
import io

import numpy as np
import openai
import pytest
from PIL import Image

from pixeldrift.provenance.label import read_labels


@pytest.fixture
def openai_client(live_server):
    server = live_server(token="test-token-123", watermark=False)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="test-token-123", max_retries=0, timeout=30)
    client.server_url = server.url
    return client


def png_file(image: Image.Image, name: str = "image.png") -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return (name, buffer.getvalue(), "image/png")


def test_generations_as_base64_and_as_urls(openai_client):
    result = openai_client.images.generate(prompt="two red circles", n=2, size="64x48", response_format="b64_json")
    assert len(result.data) == 2 and result.created > 0
    png = base64.b64decode(result.data[0].b64_json)
    assert Image.open(io.BytesIO(png)).size == (64, 48)
    assert read_labels(png).record.prompt == "two red circles"
    linked = openai_client.images.generate(prompt="a blue star", response_format="url")
    import httpx
    fetched = httpx.get(linked.data[0].url, headers={"Authorization": "Bearer test-token-123"})
    assert fetched.status_code == 200 and read_labels(fetched.content).record.prompt == "a blue star"


def test_openai_model_names_run_the_default_model_with_a_warning(openai_client):
    result = openai_client.images.generate(prompt="a square", model="dall-e-3", quality="hd", size="auto")
    extras = result.model_extra or {}
    assert "model 'dall-e-3' is OpenAI's; this server ran 'pixeldrift-cpu'" in extras["pixeldrift_warnings"]
    assert "quality='hd' is not supported by pixeldrift and was ignored" in extras["pixeldrift_warnings"]
    with pytest.raises(openai.BadRequestError, match="unknown model 'not-a-model'"):
        openai_client.images.generate(prompt="a square", model="not-a-model")
    with pytest.raises(openai.BadRequestError, match="prompt refused"):
        openai_client.images.generate(prompt="a nude child")


def test_wrong_key_is_refused(openai_client):
    other = openai.OpenAI(base_url=f"{openai_client.server_url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        other.images.generate(prompt="a square")


def test_edit_with_a_transparent_mask_repaints_only_there(openai_client):
    start = Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    mask = np.full((64, 64, 4), 255, np.uint8)
    mask[:, :24, 3] = 0          # transparent = edit (OpenAI's rule)
    result = openai_client.images.edit(image=png_file(start), mask=png_file(Image.fromarray(mask, "RGBA")),
                                       prompt="a green triangle", response_format="b64_json")
    out = np.asarray(Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))).convert("RGB")).astype(int)
    kept = np.asarray(start).astype(int)
    assert np.array_equal(out[:, 40:], kept[:, 40:]) and np.abs(out[:, :20] - kept[:, :20]).mean() > 10


def test_edit_without_transparency_regenerates_the_whole_image(openai_client):
    start = Image.new("RGB", (64, 64), "white")
    result = openai_client.images.edit(image=png_file(start), prompt="a red circle", n=2, size="48x48")
    assert len(result.data) == 2
    assert Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))).size == (48, 48)
    with pytest.raises(openai.BadRequestError, match="the mask is 32x32 but the image is 64x64"):
        openai_client.images.edit(image=png_file(start), mask=png_file(Image.new("RGBA", (32, 32))), prompt="x")
    with pytest.raises(openai.BadRequestError, match="not an image"):
        openai_client.images.edit(image=("a.png", b"plain text", "image/png"), prompt="x")
