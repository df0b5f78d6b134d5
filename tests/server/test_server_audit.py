"""The bias audit in the studio: a job on the one worker whose report is the CLI's, and bad input refused by name."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.classroom.audit import NAMED_PROMPTS, audit_prompt
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.provenance.label import read_labels
from pixeldrift.server.audit_api import AuditJob, run_audit
from pixeldrift.server.job import JobCancelled
from server_helpers import GatedModel, wait_job

FAST = {"prompt": "some circles", "seeds": 4, "steps": 2, "reference_n": 40, "seed": 3}


def test_the_page_is_told_the_prompts_and_limits(client):
    info = client.get("/api/audit").json()
    assert [p["prompt"] for p in info["prompts"]] == list(NAMED_PROMPTS)
    assert info["prompts"][2] == {"prompt": "some circles", "kind": "objects",
                                  "attributes": ["count", "colour", "size", "position"]}
    assert info["seeds"] == {"min": 4, "max": 32, "default": 16} and info["models"] == [info["default_model"]]


def test_an_audit_reports_what_the_cli_computes(client, tmp_path):
    answer = client.post("/api/audit", json=FAST)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["kind"] == "audit" and answer.headers["location"] == f"/api/audit/{job['id']}"
    assert wait_job(client, job["id"], 120)["status"] == "succeeded"
    found = client.get(f"/api/audit/{job['id']}").json()
    report = found["report"]
    assert found["job"]["phase"] == "done" and found["job"]["total_steps"] == 2
    assert {a["attribute"] for a in report["audits"]} == {"count", "colour", "size", "position"}

    out = tmp_path / "cli"   # the CLI on the same model, prompt, seeds, steps and training sample
    result = CliRunner().invoke(cli, ["audit", "--prompt", "some circles", "-n", "4", "--steps", "2", "--seed", "3",
                                      "--reference-n", "40", "--out", str(out)])
    assert result.exit_code == 0, result.output
    command = json.loads((out / "report.json").read_text())
    assert report["audits"] == command["audits"]   # every count and figure, outputs vs training vs uniform
    assert report["unreadable"] == command["unreadable"]
    assert report["table"] == (out / "report.md").read_text().split("\n\n", 1)[1].strip()
    for key in ("samples", "reference_n", "seed", "steps", "reference"):
        assert report[key] == command[key]

    chart = client.get(report["chart_url"])
    assert chart.headers["content-type"] == "image/png" and Image.open(io.BytesIO(chart.content)).width > 300
    sheet = client.get(report["outputs_url"])
    assert Image.open(io.BytesIO(sheet.content)).size == (4 * 64 + 3 * 2, 64)   # the 4 images read
    labels = read_labels(sheet.content)
    assert labels.record.prompt == "some circles" and labels.record.extra["Bias audit"] == "4 images, seeds 3 to 6"
    assert client.get("/api/gallery").json()["total"] == 0   # an audit adds nothing to the gallery


@pytest.mark.parametrize("change, status, field", [
    ({"prompt": "a dragon"}, 400, "prompt"),
    ({"prompt": "a red circle above a square"}, 400, "prompt"),   # two groups: not auditable
    ({"prompt": ""}, 400, "prompt"),
    ({"prompt": "a star " * 400}, 422, "prompt"),
    ({"seeds": 3}, 422, "seeds"),
    ({"seeds": 33}, 422, "seeds"),
    ({"seeds": 4.0}, 422, "seeds"),
    ({"seed": -1}, 422, "seed"),
    ({"steps": 0}, 400, "steps"),
    ({"steps": 100_000}, 400, "steps"),
    ({"model": "no-such-model"}, 400, "model"),
    ({"reference_n": 5}, 422, "reference_n"),
    ({"reference": "/etc"}, 422, "reference"),                    # no folder is ever read
])
def test_bad_input_is_refused_naming_the_field_and_nothing_runs(client, change, status, field):
    answer = client.post("/api/audit", json={**FAST, **change})
    assert answer.status_code == status, answer.text
    assert answer.json()["param"] == field
    assert client.get("/api/jobs").json()["jobs"] == []


def test_unknown_audits_and_pictures_are_404(client):
    assert client.get(f"/api/audit/{'a' * 32}").json()["param"] == "job_id"
    image_job = wait_job(client, client.post("/api/jobs", json={"prompt": "a star", "steps": 1}).json()["id"])
    assert client.get(f"/api/audit/{image_job['id']}").status_code == 404   # an image job is no audit
    assert client.get(f"/api/audit/{'b' * 500}/chart.png").status_code == 404


def test_an_audit_waits_for_the_image_job_on_the_worker_and_can_be_cancelled(make_client, default_model):
    model = GatedModel(default_model)
    client = make_client(model)
    try:
        image_job = client.post("/api/jobs", json={"prompt": "a red circle", "steps": 3}).json()
        assert model.paused.wait(30)
        audits = [client.post("/api/audit", json=FAST).json() for _ in range(2)]
        assert [a["status"] for a in audits] == ["queued", "queued"] and audits[0]["position"] == 1
        assert client.get(f"/api/jobs/{image_job['id']}").json()["status"] == "running"
        assert client.delete(f"/api/jobs/{audits[1]['id']}").json()["status"] == "cancelled"
    finally:
        model.gate.set()
    image, audit = wait_job(client, image_job["id"]), wait_job(client, audits[0]["id"], 120)
    assert audit["status"] == "succeeded" and audit["started"] >= image["finished"]   # after, not beside
    cancelled = client.get(f"/api/audit/{audits[1]['id']}").json()
    assert cancelled["job"]["status"] == "cancelled" and cancelled["report"] is None
    assert client.get(f"/api/audit/{audits[1]['id']}/chart.png").status_code == 404


def test_a_cancel_stops_an_audit_while_it_reads_the_training_data(default_model):
    class NeverDraws:
        def sample(self, *args, **kwargs):
            raise AssertionError("drew after the cancel")
    request = GenerationRequest(prompt="some circles", steps=2, width=64, height=64, seed=0)
    job = AuditJob(kind="audit", request=request, model_name="m", audit=audit_prompt("some circles"), samples=4,
                   reference_n=40, cancel_requested="cancelled by the user")
    with pytest.raises(JobCancelled):
        run_audit(job, NeverDraws(), watermark=False)
    assert job.phase == "training data" and job.report is None
