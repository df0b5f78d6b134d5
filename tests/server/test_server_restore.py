"""POST /api/restore on a tiny random model (32 px, 2 steps): the restored image lands in the gallery as a labelled
PNG with the restore's settings in its record, the answer carries the measurement restored, and both are what
`pixeldrift restore` writes for the same inputs and seed; the restoration runs on the job worker behind image
jobs; every bad field is a 4xx naming it, with nothing queued or saved."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.pipeline import load_model
from pixeldrift.provenance.label import read_labels
from server_helpers import GatedModel, png_base64, queued_behind_an_image_job
from test_server_bad_input import bomb_png

FAST = {"steps": 2, "seed": 3}


@pytest.fixture(scope="module")
def tiny(random_model_dir):
    return load_model(random_model_dir)


@pytest.fixture
def restore_client(make_client, tiny):
    return make_client(tiny)


def noise_image(size: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def hole(size: int = 32) -> Image.Image:
    mask = np.zeros((size, size), np.uint8)
    mask[8:20, 4:16] = 255
    return Image.fromarray(mask)


SMALL, CLEAN = png_base64(noise_image(8)), png_base64(noise_image(32))


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def data_url_bytes(url: str) -> bytes:
    header, data = url.split(",", 1)
    assert header == "data:image/png;base64"
    return base64.b64decode(data)


def restore_by_cli(tmp_path, model_dir, picture: Image.Image, options: list) -> tuple[bytes, bytes | None]:
    """`pixeldrift restore` on the picture saved as in.png: (the output's bytes, the degraded image's or None)."""
    picture.save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["restore", str(tmp_path / "in.png"), "--model", str(model_dir), "-o", str(out),
                                      *map(str, options)])
    assert result.exit_code == 0, result.output
    degraded = tmp_path / "out-degraded.png"
    return out.read_bytes(), degraded.read_bytes() if degraded.exists() else None


def test_sr4_restores_into_the_gallery_as_a_labelled_png_equal_to_the_commands(restore_client, random_model_dir,
                                                                               tmp_path):
    small = noise_image(8)
    response = restore_client.post("/api/restore", json={**FAST, "image": png_base64(small), "task": "sr4",
                                                         "prompt": "a red circle", "image_name": "in.png"})
    assert response.status_code == 200, response.text
    answer = response.json()
    row = answer["image"]
    assert (row["kind"], row["width"], row["height"], row["seed"], row["steps"]) == ("restore", 32, 32, 3, 2)
    assert answer["ai_generated"] is True and row["provenance"]["ai_generated"] is True
    assert (answer["measurement_width"], answer["measurement_height"], answer["simulated"]) == (8, 8, False)
    record = answer["record"]
    assert (record["prompt"], record["sampler"], record["cfg_scale"], record["model"]) == \
        ("a red circle", "euler_ancestral", 1.0, "tiny-random")
    assert record["extra"] == {"Restore": "sr4", "Restore method": "dps", "Restore zeta": "0.1875",
                               "Measurement noise": "0.05", "Measurement": "given", "Restored from": "in.png"}

    png = restore_client.get(row["url"]).content
    labels = read_labels(png)
    assert labels.ai_generated and labels.record.to_dict() == record and labels.label["watermark"]["embedded"]
    measurement = data_url_bytes(answer["measurement"])
    assert np.array_equal(pixels(measurement), np.asarray(small))    # the image itself, labelled
    assert read_labels(measurement).record.to_dict() == record        # too small to watermark: the label says so
    assert read_labels(measurement).label["watermark"]["embedded"] is False

    # The command on the same image, prompt and seed writes the same PNG
    made, degraded = restore_by_cli(tmp_path, random_model_dir, small,
                                    ["--task", "sr4", "--steps", 2, "--seed", 3, "--prompt", "a red circle"])
    assert degraded is None and np.array_equal(pixels(made), pixels(png)) and read_labels(made).record == labels.record
    other = restore_client.post("/api/restore", json={**FAST, "seed": 4, "image": png_base64(small), "task": "sr4"})
    assert other.status_code == 200, other.text
    assert not np.array_equal(pixels(restore_client.get(other.json()["image"]["url"]).content), pixels(png))

    job = restore_client.get(f"/api/jobs/{answer['job_id']}").json()
    assert (job["kind"], job["status"], job["step"], job["total_steps"], job["images"]) == \
        ("restore", "succeeded", 2, 2, [row["id"]])
    assert restore_client.get("/api/gallery").json()["total"] == 2


@pytest.mark.parametrize("task, method", [("sr4", "dps"), ("deblur", "pigdm"), ("motion", "dps"), ("inpaint", "pigdm")])
def test_simulate_degrades_and_restores_as_the_command_does(make_client, tiny, random_model_dir, tmp_path, task,
                                                            method):
    client = make_client(tiny, watermark=False)
    clean = noise_image(32, 1)
    answer = client.post("/api/restore", json={**FAST, "image": png_base64(clean), "task": task, "method": method,
                                               "simulate": True, "noise": 0.1, "zeta": 0.5,
                                               "image_name": "in.png"}).json()
    side = 8 if task == "sr4" else 32
    assert (answer["measurement_width"], answer["simulated"]) == (side, True)
    extra = answer["record"]["extra"]
    assert (extra["Measurement"], extra["Measurement noise"], extra["Restore zeta"]) == ("simulated", "0.1", "0.5")
    png, measurement = client.get(answer["image"]["url"]).content, data_url_bytes(answer["measurement"])
    assert not np.array_equal(pixels(measurement)[:8, :8], np.asarray(clean)[:8, :8])   # degraded: noise at least

    made, degraded = restore_by_cli(tmp_path, random_model_dir, clean, [
        "--task", task, "--method", method, "--simulate", "--noise", 0.1, "--zeta", 0.5, "--steps", 2, "--seed", 3,
        "--no-watermark"])
    assert degraded == measurement                                     # the same measurement, byte for byte
    assert np.array_equal(pixels(made), pixels(png)) and read_labels(made).record == read_labels(png).record


def test_inpainting_reads_the_mask_as_the_command_does(make_client, tiny, random_model_dir, tmp_path):
    restore_client = make_client(tiny, watermark=False)   # the measurement as measured, no watermark on it
    picture = noise_image(32, 2)
    hole(32).save(tmp_path / "hole.png")
    answer = restore_client.post("/api/restore", json={
        **FAST, "image": png_base64(picture), "task": "inpaint", "mask": png_base64(hole(32)),
        "image_name": "in.png"}).json()
    measurement = pixels(data_url_bytes(answer["measurement"]))
    assert (measurement[8:20, 4:16] == 128).all() and np.array_equal(measurement[20:], np.asarray(picture)[20:])
    made, _ = restore_by_cli(tmp_path, random_model_dir, picture,
                             ["--task", "inpaint", "--mask", tmp_path / "hole.png", "--steps", 2, "--seed", 3,
                              "--no-watermark"])
    assert np.array_equal(pixels(made), pixels(restore_client.get(answer["image"]["url"]).content))


def test_a1111_sampler_names_are_read_and_a_schedule_they_name_recorded(restore_client):
    body = {**FAST, "image": SMALL, "task": "sr4"}
    plain = restore_client.post("/api/restore", json={**body, "sampler": "Euler a"}).json()["record"]
    assert plain["sampler"] == "euler_ancestral" and "Schedule type" not in plain["extra"]
    karras = restore_client.post("/api/restore", json={**body, "sampler": "DPM++ 2M Karras"}).json()["record"]
    assert karras["sampler"] == "dpmpp_2m" and karras["extra"]["Schedule type"] == "karras"


def test_the_info_says_what_each_task_takes(restore_client):
    info = restore_client.get("/api/restore").json()
    assert [t["name"] for t in info["tasks"]] == ["sr4", "deblur", "motion", "inpaint"]
    assert info["methods"] == ["dps", "pigdm"] and "euler_ancestral" in info["samplers"]
    assert info["models"] == [{"name": "tiny-random", "width": 32, "height": 32, "sr4_width": 8, "sr4_height": 8}]
    assert info["defaults"] == {"method": "dps", "sampler": "euler_ancestral", "steps": 50, "noise": 0.05,
                                "zeta": {"dps": 0.1875, "pigdm": 1.0}}
    assert info["limits"]["max_steps"] == 150



def tiff_base64() -> str:
    buffer = io.BytesIO()
    noise_image(32).save(buffer, "TIFF")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("body,status,param,message", [
    ({"image": None}, 422, "image", "image: Field required"),
    ({"task": None}, 422, "task", "task: Field required"),
    ({"task": "denoise"}, 422, "task", "task: Input should be 'sr4', 'deblur', 'motion' or 'inpaint'"),
    ({"method": "ddrm"}, 422, "method", "method: Input should be 'dps' or 'pigdm'"),
    ({"steps": 0}, 400, "steps", "steps must be an integer from 1 to 150"),
    ({"steps": 1000}, 400, "steps", "steps must be an integer from 1 to 150 on this server"),
    ({"steps": "2"}, 422, "steps", "steps: Input should be a valid integer"),
    ({"noise": 0}, 422, "noise", "noise: Input should be greater than or equal to 0.0001"),
    ({"noise": 2}, 422, "noise", "noise: Input should be less than or equal to 1"),
    ({"zeta": -1}, 422, "zeta", "zeta: Input should be greater than or equal to 0"),
    ({"zeta": 101}, 422, "zeta", "zeta: Input should be less than or equal to 100"),
    ({"seed": -5}, 400, "seed", "seed must be an integer from 0"),
    ({"sampler": "magic"}, 400, "sampler", "unknown sampler 'magic'"),
    ({"model": "nope"}, 400, "model", "unknown model 'nope'; this server has: tiny-random"),
    ({"prompt": "x" * 5000}, 422, "prompt", "prompt: String should have at most"),
    ({"prompt": "a nude child"}, 400, "prompt", "prompt refused by policy category"),
    ({"image_name": "x" * 201}, 422, "image_name", "image_name: String should have at most 200"),
    ({"colour": "red"}, 422, "colour", "colour: Extra inputs are not permitted"),
    ({"image": png_base64(noise_image(9))}, 400, "image", "a sr4 measurement of 9x9 restores to 36x36, which "
                                                           "tiny-random cannot make (its own size needs 8x8 for sr4)"),
    ({"image": png_base64(noise_image(20)), "task": "deblur"}, 400, "image", "a deblur measurement of 20x20"),
    ({"simulate": True, "image": png_base64(noise_image(12))}, 400, "image",
     "simulate degrades a clean image of a size tiny-random makes; got 12x12"),
    ({"simulate": True}, 400, "image", "it restores to 8x8; this server makes 512 pixels a side at most and 32 at "
                                       "least (the watermark)"),
    ({"image": 12}, 422, "image", "image: Input should be a valid string"),
    ({"image": "%%%"}, 400, "image", "image is not valid base64"),
    ({"image": "https://example.com/cat.png"}, 400, "image", "never fetched"),
    ({"image": "/etc/passwd"}, 400, "image", "looks like a file path"),
    ({"image": base64.b64encode(b"just text").decode()}, 400, "image", "not an image"),
    ({"image": tiff_base64(), "task": "deblur"}, 400, "image", "not an image in a format accepted here"),
    ({"image": bomb_png()}, 400, "image", "decompression-bomb guard"),
    ({"image": CLEAN, "task": "inpaint"}, 400, "mask", "task inpaint needs a mask"),
    ({"image": CLEAN, "task": "deblur", "mask": CLEAN}, 400, "mask", "mask goes with task inpaint, not deblur"),
    ({"image": CLEAN, "task": "inpaint", "simulate": True, "mask": CLEAN}, 400, "mask", "send no mask with it"),
    ({"image": CLEAN, "task": "inpaint", "mask": SMALL}, 400, "mask", "mask is 8x8 but the image is 32x32"),
    ({"image": CLEAN, "task": "inpaint", "mask": "%%%"}, 400, "mask", "mask is not valid base64"),
])
def test_every_bad_field_is_a_4xx_naming_it_and_nothing_is_queued(restore_client, body, status, param, message):
    sent = {key: value for key, value in {"image": SMALL, "task": "sr4", **FAST, **body}.items() if value is not None}
    response = restore_client.post("/api/restore", json=sent)
    assert response.status_code == status, response.text
    assert response.json()["param"] == param and message in response.json()["detail"], response.json()
    assert restore_client.get("/api/jobs").json()["jobs"] == []
    assert restore_client.get("/api/gallery").json()["total"] == 0


def test_uploads_are_bounded_by_the_upload_limits(make_client, tiny):
    client = make_client(tiny, max_text_body_bytes=500, max_body_bytes=20_000, max_body_bytes_in_flight=20_000,
                         max_upload_pixels=32 * 32, max_upload_bytes=4_000)
    picture = png_base64(noise_image(32))    # past the text limit, within the upload limits: restored
    assert 500 < len(picture) and client.post("/api/restore", json={**FAST, "image": picture, "task": "deblur",
                                                                     "simulate": True}).status_code == 200
    for image, status, message in [(png_base64(Image.new("RGB", (40, 40))), 400, "pixels"),
                                   (png_base64(noise_image(64)), 413, "image: image larger than 4000 bytes")]:
        refused = client.post("/api/restore", json={**FAST, "image": image, "task": "deblur"})
        assert refused.status_code == status and refused.json()["param"] == "image", refused.text
        assert message in refused.json()["detail"]
    too_big = png_base64(noise_image(96))
    refused = client.post("/api/restore", json={**FAST, "image": too_big, "task": "deblur"})
    assert refused.status_code == 413 and "request body larger than 20000 bytes" in refused.json()["detail"]
    assert len(client.get("/api/jobs").json()["jobs"]) == 1


def test_a_restoration_waits_for_the_image_job_on_the_worker_and_can_be_cancelled(make_client, tiny):
    model = GatedModel(tiny)
    client = make_client(model)
    _, cancelled = queued_behind_an_image_job(client, model, "/api/restore", {**FAST, "image": SMALL, "task": "sr4"},
                                              "restore")
    assert cancelled["detail"] == "the image was not restored: cancelled by the user"
    assert client.get("/api/gallery").json()["total"] == 2
