"""ControlNet units in the AUTOMATIC1111 API, as the sd-webui-controlnet extension's clients send them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.server.control_catalog import ControlCatalog
from server_helpers import decode_png, png_base64

SHIPPED = Path(__file__).parents[2] / "models" / "cn-layout"   # a layout ControlNet for the default model
ARGS = "alwayson_scripts.controlnet.args"


@pytest.fixture(scope="module")
def layout_controls():
    return ControlCatalog.of(load_controlnet(SHIPPED))


def layout_map(size: int = 64, seed: int = 0) -> Image.Image:
    pixels = np.zeros((size, size, 3), np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        x, y = rng.integers(0, size - 16, 2)
        pixels[y:y + 16, x:x + 16] = rng.integers(0, 255, 3)
    return Image.fromarray(pixels)


def txt2img(client, *units, **fields):
    body = {"prompt": "a red circle", "steps": 3, "seed": 4, "width": 64, "height": 64, **fields}
    if units:
        body["alwayson_scripts"] = {"controlnet": {"args": list(units)}}
    return client.post("/sdapi/v1/txt2img", json=body)


def unit(**fields) -> dict:
    return {"enabled": True, "image": png_base64(layout_map()), "module": "none", "model": "cn-layout", **fields}


def pixels(answer: dict) -> np.ndarray:
    return np.asarray(decode_png(answer["images"][0]).convert("RGB")).astype(int)


def test_a_unit_steers_the_image_and_is_recorded(make_client, layout_controls):
    client = make_client(controls=layout_controls, watermark=False)
    plain = txt2img(client).json()
    answer = txt2img(client, unit(weight=1.5, guidance_start=0.0, guidance_end=0.8))
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    info = json.loads(answer["info"])
    assert info["extra_generation_params"]["ControlNet 0"] == (
        "Module: none, Model: cn-layout, Weight: 1.5, Guidance Start: 0, Guidance End: 0.8")
    assert info["warnings"] == []
    assert np.abs(pixels(answer) - pixels(plain)).mean() > 1
    row = client.get(f"/api/gallery/{info['gallery_ids'][0]}").json()
    assert row["settings"]["controls"] == [{"model": "cn-layout", "module": "none", "weight": 1.5,
                                            "guidance_start": 0.0, "guidance_end": 0.8}]


def test_the_forms_clients_send_are_accepted(make_client, layout_controls):
    """A data: URL, the older input_image and guidance names, a model name with the webui's hash, no
    `enabled` field, and a disabled unit beside it (UIs send empty slots)."""
    client = make_client(controls=layout_controls, watermark=False)
    reference = txt2img(client, unit(guidance_end=0.5)).json()
    data_url = "data:image/png;base64," + png_base64(layout_map())
    older = {"input_image": data_url, "module": "None", "model": "CN-Layout [a1b2c3d4]", "guidance": 0.5}
    answer = txt2img(client, older, {"enabled": False, "model": "missing", "module": "depth"})
    assert answer.status_code == 200, answer.text
    assert np.array_equal(pixels(answer.json()), pixels(reference))


def test_modules_make_their_maps_and_img2img_uses_the_init_image(make_client, layout_controls):
    client = make_client(controls=layout_controls)
    photo = layout_map(64, seed=3)
    answer = client.post("/sdapi/v1/img2img", json={
        "prompt": "a red circle", "steps": 3, "seed": 1, "init_images": [png_base64(photo)],
        "denoising_strength": 0.6, "alwayson_scripts": {"ControlNet": {"args": [
            {"module": "canny", "model": "cn-layout", "threshold_a": 50, "threshold_b": 150}]}}})
    assert answer.status_code == 200, answer.text
    assert "Module: canny" in json.loads(answer.json()["info"])["extra_generation_params"]["ControlNet 0"]
    detected = client.post("/controlnet/detect", json={"controlnet_module": "canny",
                                                       "controlnet_input_images": [png_base64(photo)]}).json()
    edges = np.asarray(decode_png(detected["images"][0]))
    assert detected["info"] == "Success" and edges.shape == (64, 64, 3) and set(np.unique(edges)) == {0, 255}


@pytest.mark.parametrize("mode", ["Just Resize", 1, "Resize and Fill"])
def test_a_map_of_another_size_is_fitted_only_when_asked(make_client, layout_controls, mode):
    client = make_client(controls=layout_controls)
    wide = png_base64(layout_map(96).crop((0, 0, 96, 48)))
    refused = txt2img(client, unit(image=wide))
    assert refused.status_code == 400 and refused.json()["param"] == f"{ARGS}[0].image"
    assert "is 96x48 but the image to generate is 64x64; send a map of that size, or say how to fit it with " \
           "resize_mode" in refused.json()["detail"]
    assert txt2img(client, unit(image=wide, resize_mode=mode)).status_code == 200


BAD_UNITS = [  # (unit fields, status, field, words in the message)
    ({"module": "depth_midas"}, 400, "module", "unknown module 'depth_midas'; pixeldrift's modules are: none, canny, "
                                               "invert, edges, scribble"),
    ({"model": "control_v11p_sd15_canny"}, 400, "model", "unknown ControlNet model 'control_v11p_sd15_canny'; this "
                                                          "server has: cn-layout"),
    ({"image": "not base64!"}, 400, "image", "is not valid base64"),
    ({"image": None}, 400, "image", "a ControlNet unit needs an image"),
    ({"image": "https://example.com/a.png"}, 400, "image", "images are never fetched"),
    ({"weight": 3}, 400, "weight", "less than or equal to 2"),
    ({"guidance_start": 0.6, "guidance_end": 0.4}, 400, "guidance_start", "must come before guidance_end"),
    ({"resize_mode": "Stretch", "image": png_base64(layout_map(32))}, 400, "resize_mode", "is unknown; accepted"),
    ({"enabled": "maybe"}, 400, "enabled", "valid boolean"),
]


@pytest.mark.parametrize("fields,status,field,message", BAD_UNITS)
def test_bad_units_are_refused_naming_the_field(make_client, layout_controls, fields, status, field, message):
    client = make_client(controls=layout_controls)
    response = txt2img(client, unit(**fields))
    assert response.status_code == status, response.text
    assert response.json()["param"] == f"{ARGS}[0].{field}" and message in response.json()["detail"]


def test_bad_unit_lists_and_sizes_are_refused(make_client, layout_controls):
    client = make_client(controls=layout_controls, max_upload_bytes=2000)
    too_many = txt2img(client, *[unit()] * 5)
    assert too_many.status_code == 400 and "5 ControlNet units are enabled; at most 4" in too_many.json()["detail"]
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    oversized = txt2img(client, unit(image=png_base64(big)))
    assert oversized.status_code == 413 and oversized.json()["param"] == f"{ARGS}[0].image"
    not_a_list = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "alwayson_scripts": {"controlnet": {"args": 3}}})
    assert not_a_list.status_code == 400 and 'must be {"args": [unit, ...]}' in not_a_list.json()["detail"]
    not_a_unit = txt2img(client, "canny")
    assert not_a_unit.status_code == 400 and "must be an object (a ControlNet unit)" in not_a_unit.json()["detail"]


def test_what_pixeldrift_does_not_act_on_is_reported(make_client, layout_controls):
    client = make_client(controls=layout_controls)
    answer = client.post("/sdapi/v1/txt2img", json={
        "prompt": "a red circle", "steps": 2, "width": 64, "height": 64, "alwayson_scripts": {
            "controlnet": {"args": [unit(control_mode="ControlNet is more important", pixel_perfect=True,
                                         processor_res=512, low_vram=False, magic=1)]},
            "ADetailer": {"args": []}}})
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.json()["info"])["warnings"] == [
        "alwayson_scripts.ADetailer is not supported by pixeldrift and was ignored",
        f"{ARGS}[0].control_mode='ControlNet is more important' is not supported by pixeldrift and was ignored "
        "(Balanced: the control acts on both halves of classifier-free guidance)",
        f"{ARGS}[0].pixel_perfect is not supported by pixeldrift and was ignored",
        f"{ARGS}[0]: unknown field 'magic' was ignored"]


def test_the_extension_listings(make_client, layout_controls):
    client = make_client(controls=layout_controls)
    assert client.get("/controlnet/version").json() == {"version": 2}
    assert client.get("/controlnet/model_list").json() == {"model_list": ["cn-layout"]}
    modules = client.get("/controlnet/module_list").json()
    assert modules["module_list"] == ["none", "canny", "invert", "edges", "scribble"]
    assert [s["value"] for s in modules["module_detail"]["canny"]["sliders"]] == [100, 200]
    assert client.get("/controlnet/settings").json() == {"control_net_unit_count": 4}
    empty = make_client()
    assert empty.get("/controlnet/model_list").json() == {"model_list": []}
    refused = txt2img(empty, unit())
    assert "this server has: none (start the server with --control PATH)" in refused.json()["detail"]


# ----- Stable Diffusion ControlNets --------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    """A tiny SD 1.x model and a tiny ControlNet for it as one file with the original names."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "pretrained"))
    from tiny_sd_models import controlnet_single_file, make_controlnet, make_sd1

    from pixeldrift.pretrained import open_model

    root = tmp_path_factory.mktemp("tiny-sd")
    folder = make_sd1(root / "tiny-sd1")
    single = controlnet_single_file(make_controlnet(root / "cn", folder), root / "control_tiny_canny.safetensors")
    return open_model(folder), single


def test_sd_controlnet_units_on_a_stable_diffusion_model(make_client, default_model, tiny_sd):
    """A served SD model and an SD ControlNet file opened for it; the same unit on the pixeldrift model is
    refused naming both."""
    sd, single = tiny_sd
    client = make_client(models={"tiny-sd1": sd, "pixeldrift-cpu": default_model},
                         controls=lambda models: ControlCatalog.load([str(single)], models, "cpu"))
    assert client.get("/controlnet/model_list").json() == {"model_list": ["control_tiny_canny"]}
    photo = png_base64(layout_map(32, seed=5))
    canny = {"image": photo, "module": "canny", "model": "control_tiny_canny", "weight": 0.7}
    answer = txt2img(client, canny, width=32, height=32, override_settings={"sd_model_checkpoint": "tiny-sd1"})
    assert answer.status_code == 200, answer.text
    info = json.loads(answer.json()["info"])
    assert info["sd_model_name"] == "tiny-sd1" and "Model: control_tiny_canny, Weight: 0.7" in \
        info["extra_generation_params"]["ControlNet 0"]
    refused = txt2img(client, {**canny, "image": png_base64(layout_map(64))},
                      override_settings={"sd_model_checkpoint": "pixeldrift-cpu"})
    assert refused.status_code == 400 and refused.json()["param"] == f"{ARGS}[0].model"
    assert "steers Stable Diffusion" in refused.json()["detail"] and "'pixeldrift-cpu' is a pixeldrift model" in \
        refused.json()["detail"]


def test_a_data_url_survives_base64_padding_and_whitespace(make_client, layout_controls):
    client = make_client(controls=layout_controls)
    encoded = png_base64(layout_map())
    wrapped = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    assert txt2img(client, unit(image="data:image/png;base64," + wrapped)).status_code == 200


def test_webuiapi_controlnet_units_and_listings(live_server, layout_controls):
    """webuiapi's ControlNetUnit (its defaults: "Resize and Fill", thresholds 64, control_mode Balanced)."""
    import webuiapi

    api = webuiapi.WebUIApi(baseurl=f"{live_server(controls=layout_controls).url}/sdapi/v1")
    assert api.controlnet_version() == 2 and api.controlnet_model_list() == ["cn-layout"]
    assert "canny" in api.controlnet_module_list() and api.get_scripts()["txt2img"] == ["controlnet"]
    units = [webuiapi.ControlNetUnit(image=layout_map(96), module="canny", model="cn-layout", weight=0.9),
             webuiapi.ControlNetUnit(image=layout_map(), model="cn-layout", enabled=False)]
    # a dict of our own: webuiapi writes the units into its default alwayson_scripts={}, shared by later calls
    result = api.txt2img(prompt="a red circle", width=64, height=64, steps=2, seed=3, controlnet_units=units,
                         alwayson_scripts={})
    assert result.info["warnings"] == [] and len(result.images) == 1
    assert "Module: canny, Model: cn-layout, Weight: 0.9" in result.info["extra_generation_params"]["ControlNet 0"]
    detected = api.controlnet_detect([layout_map()], module="canny")
    assert detected.info == "Success" and detected.images[0].size == (64, 64)


def test_controls_load_where_the_server_finds_models(tmp_path, default_model, tiny_sd):
    """settings.control_paths (`pixeldrift serve --control`): ours by folder; an SD ControlNet file that fits
    no served model is refused at start, saying why."""
    from pixeldrift.server import ServerSettings, create_app
    from pixeldrift.server.model_catalog import ModelCatalog

    app = create_app(ServerSettings(gallery_dir=tmp_path / "a", control_paths=(str(SHIPPED),)),
                     ModelCatalog.of(default_model))
    assert app.state.studio.controls.names() == ["cn-layout"]
    with pytest.raises(ValueError, match="control_tiny_canny.safetensors: a ControlNet with cross-attention width "
                                         "32, of no family pixeldrift knows by heart"):
        create_app(ServerSettings(gallery_dir=tmp_path / "b", control_paths=(str(tiny_sd[1]),)),
                   ModelCatalog.of(default_model))
