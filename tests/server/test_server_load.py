"""200 concurrent requests against a queue of 16: every one answered 200 or 429, nothing lost."""

from __future__ import annotations

import asyncio
import json

import httpx


async def _fire(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        body = {"prompt": "a red circle", "steps": 2, "seed": 1}
        return await asyncio.gather(*(http.post("/sdapi/v1/txt2img", json=body) for _ in range(count)))


def test_two_hundred_concurrent_requests_against_a_queue_of_sixteen(live_server):
    server = live_server(queue_size=16)
    responses = asyncio.run(_fire(server.url, 200))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    accepted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert accepted and refused  # the queue filled up, and what it took was made
    assert all(int(r.headers["Retry-After"]) >= 1 and "queue is full" in r.json()["detail"] for r in refused)
    studio = server.app.state.studio
    gallery_ids = [json.loads(r.json()["info"])["gallery_ids"] for r in accepted]
    assert all(len(ids) == 1 and len(r.json()["images"]) == 1 for ids, r in zip(gallery_ids, accepted))
    rows, total = studio.gallery.search(limit=500)
    assert total == len(accepted) == len({ids[0] for ids in gallery_ids})   # no lost or extra row
    assert {row["id"] for row in rows} == {ids[0] for ids in gallery_ids}
    assert all(studio.gallery.path_of(row["id"]).is_file() for row in rows)
    # memory stays bounded: never more than the queue's capacity waiting, finished jobs trimmed
    assert studio.queue.high_water <= 16 and len(studio.queue.jobs) <= len(accepted)
    assert httpx.get(f"{server.url}/api/info").status_code == 200
