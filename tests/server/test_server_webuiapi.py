"""The AUTOMATIC1111 endpoints driven by `webuiapi`, the common client of that API, against a live server."""

from __future__ import annotations

import threading

import httpx
import pytest
import webuiapi
from PIL import Image

from server_helpers import CountingModel, GatedModel

SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 5}


def client_for(server) -> webuiapi.WebUIApi:
    return webuiapi.WebUIApi(baseurl=f"{server.url}/sdapi/v1")


def test_plain_calls_get_images_and_no_warnings(live_server):
    api = client_for(live_server())
    result = api.txt2img(prompt="a red circle", **SMALL)
    assert len(result.images) == 1 and result.images[0].size == (64, 64)
    assert result.info["warnings"] == []   # the client's defaults (hr_scale=2, eta=1, s_noise=1...) are not news
    edited = api.img2img(images=[Image.new("RGB", (64, 64), "white")], prompt="a blue square", **SMALL)
    assert len(edited.images) == 1 and edited.info["warnings"] == []


def test_values_that_change_the_webuis_result_still_warn(live_server):
    api = client_for(live_server())
    result = api.txt2img(prompt="a red circle", eta=0.5, sampler_name="Euler a", s_churn=0.3, **SMALL)
    assert result.info["warnings"] == ["eta=0.5 is not supported by pixeldrift and was ignored",
                                       "s_churn=0.3 is not supported by pixeldrift and was ignored"]


def test_the_clients_hires_fix_enlarges_with_its_defaults(live_server):
    result = client_for(live_server()).txt2img(prompt="a red circle", enable_hr=True, **SMALL)
    assert result.images[0].size == (128, 128) and result.info["warnings"] == []  # hr_scale=2, Latent, 0.7
    assert "Denoising strength: 0.7, Hires upscale: 2, Hires upscaler: Latent" in result.info["infotexts"][0]


def test_listing_endpoints_answer_in_the_webuis_shapes(live_server):
    api = client_for(live_server())
    assert api.get_scripts() == {"txt2img": [], "img2img": []}
    assert [u["name"] for u in api.get_upscalers()] == ["None", "Lanczos", "Bicubic", "Nearest"]
    assert set(api.get_upscalers()[1]) == {"name", "model_name", "model_path", "model_url", "scale"}
    assert api.get_loras() == [] and api.get_embeddings() == {"loaded": {}, "skipped": {}}
    flags = api.get_cmd_flags()
    assert flags["api"] is True and flags["listen"] is False and "token" not in str(flags).lower()
    memory = api.get_memory()
    assert memory["ram"]["total"] >= memory["ram"]["used"] > 0 and set(memory) == {"ram", "cuda"}


def test_switching_the_model_through_the_options(live_server, default_model):
    second = CountingModel(default_model)
    server = live_server(models={"pixeldrift-cpu": default_model, "second": second})
    api = client_for(server)
    assert api.util_get_current_model() == "pixeldrift-cpu"
    api.util_set_model("Second")   # the client lowercases it and picks the closest title
    assert api.util_get_current_model() == "second"
    result = api.txt2img(prompt="a red circle", **SMALL)
    assert result.info["sd_model_name"] == "second" and second.calls == 1
    refused = httpx.post(f"{server.url}/sdapi/v1/options", json={"sd_model_checkpoint": "sd-xl"})
    assert refused.status_code == 400 and refused.json()["param"] == "sd_model_checkpoint"
    assert "unknown model 'sd-xl'" in refused.json()["detail"] and api.util_get_current_model() == "second"
    kept = api.set_options({"samples_format": "png", "CLIP_stop_at_last_layers": 2})
    assert kept["warnings"] == ["option 'CLIP_stop_at_last_layers' is not used by pixeldrift and was not kept"]


def test_skip_keeps_the_batch_as_it_is_and_goes_on(live_server, default_model):
    model = GatedModel(default_model)
    api = client_for(live_server(model, preview_interval_s=0.0))
    results = []
    worker = threading.Thread(target=lambda: results.append(api.txt2img(
        prompt="a red circle", n_iter=2, width=64, height=64, steps=5, seed=7)))
    worker.start()
    try:
        assert model.paused.wait(30)
        api.skip()
    finally:
        model.gate.set()
        worker.join(60)
    info = results[0].info
    assert len(results[0].images) == 2 and info["interrupted"] is False and info["all_seeds"] == [7, 8]
    assert "Interrupted" in results[0].images[0].info["parameters"]
    assert "Interrupted" not in results[0].images[1].info["parameters"]


@pytest.mark.parametrize("path", ["/sdapi/v1/skip", "/sdapi/v1/interrupt"])
def test_skip_and_interrupt_with_nothing_running(client, path):
    assert client.post(path).json() == {}
