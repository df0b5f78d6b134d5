"""A server killed with SIGKILL mid-job loses no finished image or row; the interrupted job reads failed."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import numpy as np
from PIL import Image

from pixeldrift.provenance.label import labelled_png_bytes, read_labels
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.server.gallery import INTERRUPTED, Gallery


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gallery, port: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "pixeldrift.cli.main", "serve", "--port", str(port),
                                "--gallery", str(gallery), "--log-level", "warning"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start in 60 s")


def wait_for(http, job_id: str, ready) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = http.get(f"/api/jobs/{job_id}").json()
        if ready(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached the state waited for")


def test_kill_9_mid_job_then_restart(tmp_path):
    gallery, port = tmp_path / "gallery", free_port()
    server = start_server(gallery, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            finished = http.post("/api/jobs", json={"prompt": "a red circle", "steps": 3, "batch_size": 2}).json()
            finished = wait_for(http, finished["id"], lambda j: j["status"] == "succeeded")
            running = http.post("/api/jobs", json={"prompt": "a slow blue square", "steps": 150,
                                                   "width": 128, "height": 128}).json()
            waiting = http.post("/api/jobs", json={"prompt": "a waiting star", "steps": 3}).json()
            wait_for(http, running["id"], lambda j: j["status"] == "running" and j["step"] >= 1)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)

    with sqlite3.connect(gallery / "gallery.sqlite3") as db:  # as the kill left it, before any recovery
        states = dict(db.execute("SELECT id, status FROM jobs"))
        assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 2
    assert states == {finished["id"]: "succeeded", running["id"]: "running", waiting["id"]: "queued"}

    server = start_server(gallery, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for job in (running, waiting):
                after = http.get(f"/api/jobs/{job['id']}").json()
                assert after["status"] == "failed" and after["error"] == INTERRUPTED
            kept = http.get(f"/api/jobs/{finished['id']}").json()
            assert kept["status"] == "succeeded" and sorted(kept["images"]) == sorted(finished["images"])
            for image_id in finished["images"]:
                png = http.get(f"/api/gallery/{image_id}/image.png")
                assert png.status_code == 200 and read_labels(png.content).record.prompt == "a red circle"
            assert http.get("/api/gallery").json()["total"] == 2
            again = http.post("/api/jobs", json={"prompt": "after the crash", "steps": 2}).json()
            assert wait_for(http, again["id"], lambda j: j["status"] != "queued" and j["status"] != "running"
                            )["status"] == "succeeded"
    finally:
        server.terminate()
        server.wait(30)


def test_reopening_reconciles_files_and_rows(tmp_path):
    gallery = Gallery(tmp_path)
    image = Image.fromarray(np.full((64, 64, 3), 200, np.uint8))
    record = GenerationRecord(prompt="an orphan", seed=7)
    png = labelled_png_bytes(image, record)
    gallery.add("a" * 32, png, record, job_id=None, kind="txt2img", settings={})
    gallery.add("b" * 32, png, record, job_id=None, kind="txt2img", settings={})
    gallery.close()
    (tmp_path / "images" / f"{'a' * 32}.png").unlink()                  # deleted, row not yet: drop the row
    (tmp_path / "images" / f"{'c' * 32}.png").write_bytes(png)          # written, row not yet: import it
    (tmp_path / "images" / f".{'d' * 32}.png.x1.tmp").write_bytes(png[:10])  # a cut-short atomic write
    (tmp_path / "images" / "notes.png").write_bytes(b"not ours")         # not an id: left alone
    reopened = Gallery(tmp_path)
    rows, total = reopened.search()
    assert total == 2 and {r["id"] for r in rows} == {"b" * 32, "c" * 32}
    orphan = reopened.get("c" * 32)
    assert orphan["prompt"] == "an orphan" and orphan["seed"] == 7 and orphan["settings"]["recovered"] is True
    assert not list((tmp_path / "images").glob(".*.tmp")) and (tmp_path / "images" / "notes.png").exists()
    reopened.close()
