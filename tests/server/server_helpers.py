"""Helpers for the server tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import io
import threading
import time

from PIL import Image

BASE_URL = "http://127.0.0.1:7860"


class GatedModel:
    """The real model, except that generation pauses after each step until the test opens `gate`.

    Lets a test look at a job while it is running (progress, preview, cancel, a full
    queue) without guessing at timings.
    """

    def __init__(self, model):
        self._model = model
        self.gate = threading.Event()
        self.paused = threading.Event()

    def __getattr__(self, name):
        return getattr(self._model, name)

    def generate(self, request, callback=None, model_name=None, **options):
        def gated(i, x, denoised):
            if callback is not None:
                callback(i, x, denoised)
            self.paused.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return self._model.generate(request, callback=gated, model_name=model_name, **options)


def wait_job(client, job_id: str, timeout: float = 30.0) -> dict:
    """Poll a job until it ends (bounded); returns its final JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def queued_behind_an_image_job(client, model: GatedModel, path: str, body: dict, kind: str) -> tuple[dict, dict]:
    """POST `body` to `path` twice while an image job holds the worker (on `model`, gated), and cancel the second
    while it waits; checks both waited queued, the first ran after the image job and the second answered 409.
    Returns the two answers' JSON."""
    answers, threads = {}, []

    def post(name):
        answers[name] = client.post(path, json=body)

    def waiting() -> list[dict]:
        return [j for j in client.get("/api/jobs").json()["jobs"] if j["kind"] == kind][::-1]  # oldest first
    try:
        image_job = client.post("/api/jobs", json={"prompt": "a red circle", "steps": 3}).json()
        assert model.paused.wait(30)
        for name in ("made", "cancelled"):
            threads.append(threading.Thread(target=post, args=(name,)))
            threads[-1].start()
            deadline = time.monotonic() + 30
            while len(waiting()) < len(threads):
                assert time.monotonic() < deadline, f"the {kind} job was never queued"
                time.sleep(0.02)
        jobs = waiting()
        time.sleep(0.3)
        assert [client.get(f"/api/jobs/{j['id']}").json()["status"] for j in jobs] == ["queued", "queued"]
        assert client.get(f"/api/jobs/{image_job['id']}").json()["status"] == "running"
        assert client.delete(f"/api/jobs/{jobs[1]['id']}").json()["status"] == "cancelled"
    finally:
        model.gate.set()
    for thread in threads:
        thread.join(60)
    image = wait_job(client, image_job["id"])
    made, cancelled = answers["made"], answers["cancelled"]
    assert made.status_code == 200 and image["status"] == "succeeded"
    assert client.get(f"/api/jobs/{made.json()['job_id']}").json()["started"] >= image["finished"]  # after, not beside
    assert cancelled.status_code == 409 and "cancelled by the user" in cancelled.json()["detail"]
    return made.json(), cancelled.json()


def png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def decode_png(text: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(text)))


class LiveServer:
    """The app on a real uvicorn socket at 127.0.0.1 (a free port), in a thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on", limit_concurrency=1000, backlog=1024))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class CountingModel:
    """The real model, counting its generate() calls: tells which of two served models made an image."""

    def __init__(self, model):
        self._model = model
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def generate(self, request, callback=None, model_name=None, **options):
        self.calls += 1
        return self._model.generate(request, callback=callback, model_name=model_name, **options)
