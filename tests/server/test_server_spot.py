"""The spot-the-AI game's API: plain pictures out, the key kept on the server, each round answered once."""

from __future__ import annotations

import base64
import io

from PIL import Image

from pixeldrift.provenance.png_chunks import iter_chunks


def _picture_bytes(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix):])


def test_a_round_shows_plain_pictures_and_no_answers(client):
    response = client.post("/api/spot/rounds")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"round", "pictures", "generated"}
    assert all(set(p) == {"index", "src"} for p in body["pictures"])
    for picture in body["pictures"]:
        data = _picture_bytes(picture["src"])
        assert {c.kind for c in iter_chunks(data)} <= {"IHDR", "IDAT", "IEND"}   # no text, no C2PA
        assert Image.open(io.BytesIO(data)).size == (64, 64)


def test_the_answer_is_checked_once_and_forged_rounds_are_refused(client):
    body = client.post("/api/spot/rounds").json()
    answer = client.post(f"/api/spot/rounds/{body['round']}/answer", json={"marked": [0, 3]})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["total"] == len(body["pictures"]) and sum(p["generated"] for p in result["pictures"]) == \
        body["generated"]
    assert all(p["detector"]["reasons"] for p in result["pictures"])
    assert [p["marked"] for p in result["pictures"]] == [i in (0, 3) for i in range(len(body["pictures"]))]
    again = client.post(f"/api/spot/rounds/{body['round']}/answer", json={"marked": []})
    assert again.status_code == 409 and "already answered" in again.json()["detail"]
    for forged in ("A" * 24, "x" * 100):
        refused = client.post(f"/api/spot/rounds/{forged}/answer", json={"marked": []})
        assert refused.status_code == 404 and "never issued" in refused.json()["detail"]


def test_bad_answers_are_4xx_naming_the_field(client):
    round_id = client.post("/api/spot/rounds").json()["round"]
    for bad in ({"marked": [0, 0]}, {"marked": [10]}, {"marked": list(range(11))}, {"marked": "0"},
                {"marked": [], "key": 1}, {}):
        response = client.post(f"/api/spot/rounds/{round_id}/answer", json=bad)
        assert 400 <= response.status_code < 500, (bad, response.text)
        assert "marked" in response.text or "key" in response.text
    assert client.post(f"/api/spot/rounds/{round_id}/answer", json={"marked": [2]}).status_code == 200
