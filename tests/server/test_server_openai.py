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


def test_a_size_the_model_cannot_draw_is_drawn_small_and_resized(openai_client):
    result = openai_client.images.generate(prompt="a red circle", model="dall-e-3", size="1024x1024")
    png = base64.b64decode(result.data[0].b64_json)
    assert Image.open(io.BytesIO(png)).size == (1024, 1024) and result.size == "1024x1024"
    note = ("pixeldrift-cpu cannot draw 1024x1024 natively: the image was drawn at 64x64 and resized to 1024x1024 "
            "with Lanczos resampling")
    assert note in result.model_extra["pixeldrift_warnings"]
    assert read_labels(png).record.extra["Resized to"] == "1024x1024 from 64x64 by Lanczos"
    wide = openai_client.images.generate(prompt="a red circle", size="1792x1024")
    assert Image.open(io.BytesIO(base64.b64decode(wide.data[0].b64_json))).size == (1792, 1024)
    assert "drawn at 64x32" in " ".join(wide.model_extra["pixeldrift_warnings"])


@pytest.mark.parametrize("fields,param", [({"size": "99999x99999"}, "size"), ({"size": "big"}, "size"),
                                          ({"n": 1000}, "n"), ({"n": 0}, "n"), ({"model": "sd-xl"}, "model")])
def test_errors_name_the_clients_field(openai_client, fields, param):
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client.images.generate(prompt="a red circle", **fields)
    assert refused.value.param == param, refused.value.message


# the client marks variations deprecated; the endpoint still answers it
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
def test_variations_redraw_an_image_with_its_own_prompt(openai_client):
    made = openai_client.images.generate(prompt="two blue squares", size="64x64")
    png = base64.b64decode(made.data[0].b64_json)
    result = openai_client.images.create_variation(image=("made.png", png, "image/png"), n=2,
                                                   response_format="b64_json")
    assert len(result.data) == 2
    variation = base64.b64decode(result.data[1].b64_json)
    assert read_labels(variation).record.prompt == "two blue squares"
    assert Image.open(io.BytesIO(variation)).size == (64, 64)
    plain = png_file(Image.new("RGB", (64, 64), "white"))
    with pytest.raises(openai.BadRequestError, match="no pixeldrift generation record") as refused:
        openai_client.images.create_variation(image=plain)
    assert refused.value.param == "image"
    prompted = openai_client.images.create_variation(image=plain, extra_body={"prompt": "a green star"})
    assert read_labels(base64.b64decode(prompted.data[0].b64_json)).record.prompt == "a green star"


def test_models_are_listed(openai_client):
    assert [m.id for m in openai_client.models.list()] == ["pixeldrift-cpu"]
    card = openai_client.models.retrieve("pixeldrift-cpu")
    assert card.owned_by == "pixeldrift" and card.object == "model"
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("dall-e-3")
