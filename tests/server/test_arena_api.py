"""The arena and challenge routes: pairs issued and voted on once, unknown contenders and forged votes refused."""

from __future__ import annotations

import pytest

from pixeldrift.classroom.arena_store import ArenaStore


@pytest.fixture
def arena_client(make_client, tmp_path):
    client = make_client(gallery_dir=tmp_path / "arena-gallery")
    names = [c["name"] for c in client.get("/api/arena/contenders").json()["contenders"]]
    return client, names


def test_a_pair_is_voted_on_once_then_named_and_counted(arena_client, tmp_path):
    client, names = arena_client
    fast, unguided = [n for n in names if n.endswith("euler 4 steps") or n.endswith("no guidance")]
    pair = client.post("/api/arena/pair", json={"prompt": "two blue stars", "seed": 5, "contenders": [fast, unguided]})
    assert pair.status_code == 200, pair.text
    body = pair.json()
    assert body["left"].startswith("data:image/png;base64,") and body["right"].startswith("data:image/png;base64,")
    assert fast not in pair.text and unguided not in pair.text  # blind until the vote

    voted = client.post("/api/arena/vote", json={"pair_id": body["pair_id"], "choice": "left"})
    assert voted.status_code == 200, voted.text
    assert (voted.json()["left"], voted.json()["right"]) == (fast, unguided)
    assert voted.json()["verifier"]["choice"] in ("left", "right", "tie")

    again = client.post("/api/arena/vote", json={"pair_id": body["pair_id"], "choice": "right"})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    forged = client.post("/api/arena/vote", json={"pair_id": body["pair_id"][::-1], "choice": "left"})
    assert forged.status_code == 404 and forged.json()["param"] == "pair_id"

    board = client.get("/api/arena/leaderboard").json()
    assert board["human"]["votes"] == 1 and {r["model"] for r in board["human"]["rows"]} == {fast, unguided}
    assert board["verifier"]["votes"] == 1 and board["agreement"]["pairs"] == 1
    store = ArenaStore(tmp_path / "arena-gallery" / "arena.sqlite")  # the votes are on disk, with the settings
    (kept, choice), = store.human_votes()
    assert (kept.prompt, kept.seed, choice) == ("two blue stars", 5, "left")
    store.close()


@pytest.mark.parametrize("body, status, words", [
    ({"contenders": ["nobody", "nobody else"]}, 400, "unknown contender 'nobody'"),
    ({"contenders": ["a"]}, 422, ""),
    ({"seed": -1}, 422, ""),
    ({"prompt": "x" * 5000}, 422, ""),
    ({"judge": "me"}, 422, ""),
])
def test_bad_pair_requests_are_refused(arena_client, body, status, words):
    client, _ = arena_client
    answer = client.post("/api/arena/pair", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_a_pair_of_one_contender_twice_and_bad_votes_are_refused(arena_client):
    client, names = arena_client
    same = client.post("/api/arena/pair", json={"contenders": [names[0], names[0]]})
    assert same.status_code == 400 and "two different" in same.json()["detail"]
    assert client.post("/api/arena/vote", json={"pair_id": "made-up", "choice": "left"}).status_code == 404
    assert client.post("/api/arena/vote", json={"pair_id": "made-up", "choice": "both"}).status_code == 422


def test_a_challenge_names_each_failure_and_states_its_limits(client):
    listed = {c["key"]: c for c in client.get("/api/challenges").json()["challenges"]}
    assert set(listed) == {"counting", "spatial", "quantity", "time", "text", "hands"}
    assert not listed["hands"]["in_scope"] and "13" in listed["counting"]["limit"]
    ran = client.post("/api/challenges/run", json={"challenge": "counting", "seeds": 2})
    assert ran.status_code == 200, ran.text
    data = ran.json()
    assert data["drawn"] == 2 and data["passed"] == sum(a["ok"] for a in data["attempts"])
    for attempt in data["attempts"]:
        assert attempt["image"].startswith("data:image/png;base64,")
        assert (attempt["reason"] == "") == attempt["ok"]
    hands = client.post("/api/challenges/run", json={"challenge": "hands"}).json()
    assert hands["drawn"] == 0 and "scope" in hands["limit"]


@pytest.mark.parametrize("body, status, words", [
    ({"challenge": "juggling"}, 400, "accepted: counting"),
    ({"challenge": "time", "seeds": 9}, 422, ""),
    ({"challenge": "time", "model": "nope"}, 400, "unknown model"),
    ({"challenge": "time", "plan": True}, 400, "layout ControlNet"),
])
def test_bad_challenge_requests_are_refused(client, body, status, words):
    answer = client.post("/api/challenges/run", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.text
