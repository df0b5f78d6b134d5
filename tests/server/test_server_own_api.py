"""pixeldrift's own API: jobs with progress, previews and cancelling, the gallery, grids."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from pixeldrift.pipeline import latent_pipeline
from pixeldrift.provenance.label import AI_STATEMENT, read_labels
from pixeldrift.server import job_request
from server_helpers import GatedModel, png_base64, wait_job


def submit(client, **fields) -> dict:
    response = client.post("/api/jobs", json={"prompt": "a red circle", "steps": 4, **fields})
    assert response.status_code == 202, response.text
    return response.json()


def sse_events(client, job_id: str) -> list[tuple[str, dict]]:
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_txt2img_job_streams_progress_and_lands_in_the_gallery(client):
    job = submit(client, prompt="two blue squares", steps=5, batch_size=2, seed=11)
    events = sse_events(client, job["id"])
    assert events[-1][0] == "done" and [name for name, _ in events[:-1]] == ["progress"] * (len(events) - 1)
    steps = [data["step"] for _, data in events]
    assert steps == sorted(steps) and steps[-1] == 5 and events[-1][1]["total_steps"] == 5
    final = events[-1][1]
    assert final["status"] == "succeeded" and len(final["images"]) == 2
    rows = [client.get(f"/api/gallery/{i}").json() for i in final["images"]]
    assert sorted(r["seed"] for r in rows) == [11, 12]
    for row in rows:
        assert row["prompt"] == "two blue squares" and row["steps"] == 5 and row["model"] == "pixeldrift-cpu"
        assert row["settings"]["sampler"] == "dpmpp_2m" and row["settings"]["schedule"] == "karras"
        assert row["provenance"]["ai_generated"] is True and row["created"] > 0
        png = client.get(row["url"]).content
        labels = read_labels(png)
        assert labels.record.seed == row["seed"] and labels.label["statement"] == AI_STATEMENT


def test_same_seed_gives_the_same_image(client):
    first, second = (wait_job(client, submit(client, seed=5)["id"]) for _ in range(2))
    a, b = (client.get(f"/api/gallery/{j['images'][0]}/image.png").content for j in (first, second))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(a))), np.asarray(Image.open(io.BytesIO(b))))
    third = wait_job(client, submit(client, seed=6)["id"])
    c = client.get(f"/api/gallery/{third['images'][0]}/image.png").content
    assert not np.array_equal(np.asarray(Image.open(io.BytesIO(a))), np.asarray(Image.open(io.BytesIO(c))))


def test_running_job_shows_progress_and_a_labelled_preview(make_client, default_model):
    model = GatedModel(default_model)
    client = make_client(model, preview_interval_s=0.0)
    try:
        job = submit(client, steps=6)
        assert model.paused.wait(30)
        running = client.get(f"/api/jobs/{job['id']}").json()
        assert running["status"] == "running" and running["step"] == 1 and running["has_preview"]
        preview = client.get(f"/api/jobs/{job['id']}/preview.png")
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
        assert read_labels(preview.content).ai_generated
    finally:
        model.gate.set()
    done = wait_job(client, job["id"])
    assert done["status"] == "succeeded" and done["step"] == 6
    # a page that asks for the preview just after the job ended gets its first image, not a 404
    final = client.get(f"/api/jobs/{job['id']}/preview.png")
    image = client.get(f"/api/gallery/{done['images'][0]}/image.png")
    assert final.status_code == 200 and final.content == image.content


def test_cancel_stops_a_running_job_and_drops_a_waiting_one(make_client, default_model):
    model = GatedModel(default_model)
    client = make_client(model)
    try:
        running, waiting = submit(client, steps=8), submit(client, steps=8)
        assert model.paused.wait(30)
        assert client.get(f"/api/jobs/{waiting['id']}").json()["position"] == 1
        assert client.delete(f"/api/jobs/{waiting['id']}").json()["status"] == "cancelled"
        client.delete(f"/api/jobs/{running['id']}")
    finally:
        model.gate.set()
    assert wait_job(client, running["id"])["status"] == "cancelled"
    assert wait_job(client, submit(client)["id"])["status"] == "succeeded"  # the worker carries on


def test_a_full_queue_answers_429_with_retry_after(make_client, default_model):
    model = GatedModel(default_model)
    client = make_client(model, queue_size=2)
    try:
        jobs = [submit(client)]
        assert model.paused.wait(30)  # the first job is running, so the queue is empty again
        jobs += [submit(client), submit(client)]
        refused = client.post("/api/jobs", json={"prompt": "one too many", "steps": 4})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "queue is full" in refused.json()["detail"]
    finally:
        model.gate.set()
    assert all(wait_job(client, j["id"])["status"] == "succeeded" for j in jobs)


def test_img2img_and_inpaint_keep_what_they_should(make_client):
    client = make_client(watermark=False)  # compare pixels exactly
    source = wait_job(client, submit(client, seed=3)["id"])["images"][0]
    start = Image.open(io.BytesIO(client.get(f"/api/gallery/{source}/image.png").content)).convert("RGB")
    mask = np.zeros((64, 64), np.uint8)
    mask[:, :24] = 255
    job = submit(client, kind="inpaint", init_image=png_base64(start), mask=png_base64(Image.fromarray(mask)),
                 strength=1.0, mask_blur=2, prompt="a green star")
    done = wait_job(client, job["id"])
    assert done["status"] == "succeeded", done
    out = np.asarray(Image.open(io.BytesIO(client.get(f"/api/gallery/{done['images'][0]}/image.png").content)))
    kept = np.asarray(start)
    assert np.array_equal(out[:, 40:], kept[:, 40:])          # beyond the feathered edge: the input, exactly
    assert np.abs(out[:, :20].astype(int) - kept[:, :20]).mean() > 2  # the masked part was repainted
    img2img = wait_job(client, submit(client, kind="img2img", init_image=png_base64(start), strength=0.5)["id"])
    row = client.get(f"/api/gallery/{img2img['images'][0]}").json()
    assert img2img["total_steps"] == 2 and row["settings"]["strength"] == 0.5 and row["kind"] == "img2img"


def test_gallery_search_pages_downloads_and_deletes(client, tmp_path):
    for prompt in ("a red circle", "a blue square", "a red square"):
        wait_job(client, submit(client, prompt=prompt)["id"])
    found = client.get("/api/gallery", params={"q": "red"}).json()
    assert found["total"] == 2 and {r["prompt"] for r in found["images"]} == {"a red circle", "a red square"}
    both = client.get("/api/gallery", params={"q": "SQUARE red"}).json()
    assert [r["prompt"] for r in both["images"]] == ["a red square"]
    assert client.get("/api/gallery", params={"q": "100%_"}).json()["total"] == 0  # LIKE wildcards are literal
    page = client.get("/api/gallery", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 3 and len(page["images"]) == 1 and page["images"][0]["prompt"] == "a red circle"
    victim = found["images"][0]
    download = client.get(victim["download_url"])
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert client.delete(f"/api/gallery/{victim['id']}").status_code == 200
    assert client.get(victim["url"]).status_code == 404
    assert client.get(f"/api/gallery/{victim['id']}").status_code == 404
    assert client.get("/api/gallery").json()["total"] == 2


def test_grid_job_makes_one_labelled_sheet_per_z_value(client):
    response = client.post("/api/jobs", json={"kind": "grid", "prompt": "a red circle", "steps": 2,
                                              "x_axis": "steps=1,2", "z_axis": "seed=1,2"})
    assert response.status_code == 202, response.text
    done = wait_job(client, response.json()["id"])
    assert done["status"] == "succeeded" and done["total_steps"] == 4 and done["unit"] == "cells"
    assert len(done["images"]) == 2
    row = client.get(f"/api/gallery/{done['images'][0]}").json()
    assert "XYZ grid" in row["settings"]["record"]["extra"] and row["kind"] == "grid"
    bad = client.post("/api/jobs", json={"kind": "grid", "prompt": "x", "x_axis": "colour=red"})
    assert bad.status_code == 400 and "not a generation option" in bad.json()["detail"]
    over = client.post("/api/jobs", json={"kind": "grid", "prompt": "x", "x_axis": "steps=5,500"})
    assert over.status_code == 400 and "150 steps" in over.json()["detail"]


def test_info_and_openapi_document(client):
    info = client.get("/api/info").json()
    assert info["models"][0]["name"] == "pixeldrift-cpu" and "dpmpp_2m" in [s["name"] for s in info["samplers"]]
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/jobs", "/api/jobs/{job_id}/events", "/sdapi/v1/txt2img", "/sdapi/v1/img2img",
                 "/v1/images/generations", "/v1/images/edits"):
        assert path in paths
    page = client.get("/")
    assert page.status_code == 200 and "pixeldrift studio" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_moderation_runs_once_per_job(client, monkeypatch):
    """The server checks the prompt before queueing; the worker's generate() does not check it again."""
    checked = []
    for module in (job_request, latent_pipeline):
        real = module.enforce_prompt
        monkeypatch.setattr(module, "enforce_prompt", lambda text, real=real: (checked.append(text), real(text)))
    job = client.post("/api/jobs", json={"prompt": "a red circle", "steps": 2, "batch_size": 2}).json()
    assert wait_job(client, job["id"])["status"] == "succeeded"
    assert checked == ["a red circle"]


def test_docs_page_says_why_it_is_off(client):
    answer = client.get("/docs")
    assert answer.status_code == 404 and "/openapi.json" in answer.json()["detail"]
    assert "CDN" in answer.json()["detail"] and client.get("/openapi.json").status_code == 200
