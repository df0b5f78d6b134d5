"""Prompt augmentation in the studio: the preview endpoint, and jobs that draw the rewrite and label it as the CLI does."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.classroom.augment import augment
from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels
from server_helpers import wait_job

PROMPT = "three little stars directly above a square"


def test_the_preview_is_the_rewrite_and_its_choices(client):
    answer = client.post("/api/augment", json={"prompt": PROMPT, "seed": 4})
    assert answer.status_code == 200, answer.text
    rewrite = augment(PROMPT, 4)
    assert answer.json() == rewrite.to_dict()
    assert answer.json()["rewrite"] == rewrite.prompt != PROMPT and answer.json()["changes"] == list(rewrite.choices)
    assert answer.json()["metadata"] == {"Original prompt": PROMPT, "Prompt augmentation": rewrite.describe()}
    phrased = client.post("/api/augment", json={"prompt": "a little star", "fill": "phrasing"}).json()
    assert phrased["rewrite"] == "a small star" and phrased["fill"] == "phrasing"
    drawn = client.post("/api/augment", json={"prompt": "a circle", "seed": -1}).json()   # a random seed, reported
    assert drawn == augment("a circle", drawn["seed"]).to_dict()


@pytest.mark.parametrize("body, status, field", [
    ({"prompt": "a white cat"}, 400, "prompt"),                  # not a world prompt
    ({"prompt": ""}, 400, "prompt"),
    ({"prompt": "a star " * 400}, 422, "prompt"),                # over the prompt length limit
    ({"prompt": "a star", "fill": "creative"}, 422, "fill"),
    ({"prompt": "a star", "seed": -2}, 422, "seed"),
    ({"prompt": "a star", "seed": "1"}, 422, "seed"),
    ({"prompt": "a star", "steps": 3}, 422, "steps"),           # an unknown field
    ({}, 422, "prompt"),
])
def test_a_bad_preview_is_refused_naming_the_field(client, body, status, field):
    answer = client.post("/api/augment", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["param"] == field


def test_a_job_draws_the_rewrite_and_labels_it_as_generate_does(client, tmp_path):
    answer = client.post("/api/jobs", json={"prompt": PROMPT, "augment": True, "seed": 4, "steps": 2})
    assert answer.status_code == 202, answer.text
    rewrite = augment(PROMPT, 4)
    assert answer.json()["augmentation"] == rewrite.to_dict()   # reported as soon as it is queued
    job = wait_job(client, answer.json()["id"])
    assert job["status"] == "succeeded" and job["augmentation"] == rewrite.to_dict()
    row = client.get(f"/api/gallery/{job['images'][0]}").json()
    assert row["prompt"] == rewrite.prompt and row["settings"]["augmentation"] == rewrite.to_dict()
    png = client.get(row["url"]).content

    out = tmp_path / "cli.png"   # the CLI, same model, prompt, seed and steps
    result = CliRunner().invoke(cli, ["generate", PROMPT, "--augment", "--seed", "4", "--steps", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    studio, command = read_labels(png).record, read_labels(out.read_bytes()).record
    assert studio.prompt == command.prompt == rewrite.prompt
    for key in ("Original prompt", "Prompt augmentation"):
        assert studio.extra[key] == command.extra[key] == rewrite.labels()[key]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(Image.open(out)))   # the same image


def test_off_by_default_and_refused_with_the_field_named(client):
    plain = wait_job(client, client.post("/api/jobs", json={"prompt": "a little star", "steps": 1}).json()["id"])
    assert plain["augmentation"] is None
    record = read_labels(client.get(f"/api/gallery/{plain['images'][0]}/image.png").content).record
    assert record.prompt == "a little star" and "Original prompt" not in record.extra
    for body, status, field in [
            ({"prompt": "a white cat", "augment": True}, 400, "prompt"),
            ({"prompt": "a star", "augment_fill": "phrasing"}, 400, "augment_fill"),   # without augment
            ({"prompt": "a star", "augment": True, "augment_fill": "creative"}, 422, "augment_fill"),
            ({"prompt": "a star", "augment": "yes"}, 422, "augment"),
            ({"prompt": "a star", "augment": True, "kind": "grid", "x_axis": "steps=1,2"}, 400, "augment")]:
        answer = client.post("/api/jobs", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["param"] == field
    assert len(client.get("/api/jobs").json()["jobs"]) == 1   # nothing queued on a refusal
