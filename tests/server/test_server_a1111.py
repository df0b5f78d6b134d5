"""The AUTOMATIC1111-compatible endpoints answer as the webui does, and report what they cannot honour."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from pixeldrift.provenance.label import read_labels
from server_helpers import GatedModel, decode_png, png_base64


def test_txt2img_batches_iterations_seeds_and_info(client):
    body = {"prompt": "three red circles", "negative_prompt": "blur", "steps": 3, "cfg_scale": 5, "seed": 40,
            "batch_size": 2, "n_iter": 2, "sampler_name": "DPM++ 2M Karras", "width": 64, "height": 48,
            "restore_faces": True, "enable_hr": False, "styles": [], "save_images": False, "magic_field": 1}
    response = client.post("/sdapi/v1/txt2img", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    info = json.loads(answer["info"])
    assert len(answer["images"]) == 4 and info["all_seeds"] == [40, 41, 42, 43]
    assert info["sampler_name"] == "DPM++ 2M" and info["scheduler"] == "karras" and info["cfg_scale"] == 5
    assert (info["width"], info["height"], info["steps"]) == (64, 48, 3)
    assert info["warnings"] == ["restore_faces=true is not supported by pixeldrift and was ignored",
                                "unknown field 'magic_field' was ignored"]  # enable_hr false, styles []: no note
    assert answer["parameters"]["prompt"] == "three red circles"
    first = decode_png(answer["images"][0])
    assert first.size == (64, 48)
    labels = read_labels(__import__("base64").b64decode(answer["images"][0]))
    assert labels.record.seed == 40 and labels.record.negative_prompt == "blur"
    assert info["infotexts"][0] == labels.parameters
    assert client.get("/api/gallery").json()["total"] == 4 == len(info["gallery_ids"])


def test_random_seed_is_reported_and_send_images_false(client):
    answer = client.post("/sdapi/v1/txt2img", json={"prompt": "a star", "steps": 2, "seed": -1,
                                                     "send_images": False}).json()
    info = json.loads(answer["info"])
    assert answer["images"] == [] and 0 <= info["seed"] < 2**32
    assert client.get(f"/api/gallery/{info['gallery_ids'][0]}").json()["seed"] == info["seed"]


def test_variation_seed_from_subseed(client):
    info = json.loads(client.post("/sdapi/v1/txt2img", json={
        "prompt": "a star", "steps": 2, "seed": 1, "subseed": 9, "subseed_strength": 0.3}).json()["info"])
    assert info["subseed"] == 9 and info["subseed_strength"] == 0.3
    assert info["extra_generation_params"]["Variation seed"] == "9"


def test_img2img_and_inpaint_with_inverted_mask(make_client):
    client = make_client(watermark=False)  # compare pixels exactly
    start = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    answer = client.post("/sdapi/v1/img2img", json={
        "prompt": "a blue square", "steps": 4, "seed": 2, "init_images": [png_base64(start), png_base64(start)],
        "denoising_strength": 0.5, "resize_mode": 1}).json()
    info = json.loads(answer["info"])
    assert info["denoising_strength"] == 0.5 and len(answer["images"]) == 1
    assert info["warnings"] == ["resize_mode=1 is not supported by pixeldrift and was ignored",
                                "2 init_images were sent; pixeldrift uses the first only"]
    keep_left = np.zeros((64, 64), np.uint8)
    keep_left[:, 32:] = 255          # inverted below: the LEFT half is repainted
    answer = client.post("/sdapi/v1/img2img", json={
        "prompt": "a blue square", "steps": 4, "seed": 2, "init_images": [png_base64(start)],
        "mask": png_base64(Image.fromarray(keep_left)), "inpainting_mask_invert": 1, "mask_blur": 0,
        "denoising_strength": 1.0}).json()
    out = np.asarray(decode_png(answer["images"][0]).convert("RGB")).astype(int)
    kept = np.asarray(start).astype(int)
    assert np.array_equal(out[:, 32:], kept[:, 32:]) and np.abs(out[:, :32] - kept[:, :32]).mean() > 10
    assert json.loads(answer["info"])["gallery_ids"]
    row = client.get(f"/api/gallery/{json.loads(answer['info'])['gallery_ids'][0]}").json()
    assert row["kind"] == "inpaint"


def test_listing_endpoints(client):
    samplers = client.get("/sdapi/v1/samplers").json()
    names = [s["name"] for s in samplers]
    assert {"Euler a", "DPM++ 2M", "DDIM", "UniPC", "Heun", "Euler"} <= set(names)
    assert ["euler_ancestral", "k_euler_a"] == next(s["aliases"] for s in samplers if s["name"] == "Euler a")
    assert client.get("/sdapi/v1/sd-models").json()[0]["model_name"] == "pixeldrift-cpu"
    assert client.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == "pixeldrift-cpu"
    assert "Karras" in [s["label"] for s in client.get("/sdapi/v1/schedulers").json()]
    idle = client.get("/sdapi/v1/progress").json()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0 and idle["current_image"] is None


def test_progress_and_interrupt_while_a_job_runs(live_server, default_model):
    import httpx

    model = GatedModel(default_model)
    server = live_server(model, preview_interval_s=0.0)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        import threading
        answers = []
        worker = threading.Thread(target=lambda: answers.append(http.post(
            "/sdapi/v1/txt2img", json={"prompt": "a red circle", "steps": 10, "seed": 3})))
        worker.start()
        try:
            assert model.paused.wait(30)
            progress = http.get("/sdapi/v1/progress").json()
            assert progress["state"]["sampling_step"] == 1 and progress["state"]["sampling_steps"] == 10
            assert progress["progress"] == 0.1 and progress["current_image"] is not None
            assert read_labels(__import__("base64").b64decode(progress["current_image"])).ai_generated
            assert http.get("/sdapi/v1/progress", params={"skip_current_image": True}).json()["current_image"] is None
            assert http.post("/sdapi/v1/interrupt").status_code == 200
        finally:
            model.gate.set()
            worker.join(30)
    answer = answers[0]
    assert answer.status_code == 200 and json.loads(answer.json()["info"])["interrupted"] is True
    assert len(answer.json()["images"]) == 1   # the image as it was when interrupted, as the webui answers
    labels = read_labels(__import__("base64").b64decode(answer.json()["images"][0]))
    assert labels.record.extra["Interrupted"] == "at step 1 of 10" and labels.ai_generated
