"""The arena and break-the-model pages in a real browser (the `page` fixture of test_server_browser.py)."""

from __future__ import annotations

import json
import re
import urllib.request

from test_server_browser import page, wait_until  # noqa: F401  (the browser fixture and its helpers)

SLOW_MS = 180_000  # two pictures drawn on a shared 2-core machine


def _get(page, path: str) -> dict:
    with urllib.request.urlopen(page.server.url + path) as answer:
        return json.loads(answer.read())


def test_vote_blind_then_see_the_names_and_the_leaderboard(page):
    names = {c["name"] for c in _get(page, "/api/arena/contenders")["contenders"]}
    issued = []
    page.on("response", lambda r: issued.append(r.json()["pair_id"]) if r.url.endswith("/api/arena/pair") else None)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/api/arena/vote") else None)
    page.goto(page.server.url + "/static/arena.html")
    page.fill("#arena-prompt", "two blue stars")
    page.click("#arena-new")
    page.expect(page.locator("#arena-status")).to_have_text("Which picture is better?", timeout=SLOW_MS)
    wait_until(page, "document.getElementById('arena-left').naturalWidth > 0 && "
                     "document.getElementById('arena-right').naturalWidth > 0")
    assert page.text_content("#arena-left-name") == "Left"  # blind: no contender named before the vote
    assert not any(name in page.content() for name in names)

    page.click("button[data-choice='left']")
    page.expect(page.locator("#arena-status")).to_have_text("Vote recorded.", timeout=30_000)
    left = page.text_content("#arena-left-name").removeprefix("Left: ")
    right = page.text_content("#arena-right-name").removeprefix("Right: ")
    assert left in names and right in names and left != right
    assert sent == [{"pair_id": issued[0], "choice": "left"}]  # the vote names the pair the server issued
    assert page.is_disabled("button[data-choice='right']")  # one vote a pair
    rows = page.locator("#board-human tbody tr")
    page.expect(rows).to_have_count(2)
    board = _get(page, "/api/arena/leaderboard")["human"]
    assert board["votes"] == 1 and board["rows"][0]["model"] == left  # the winner ranks first
    assert rows.first.locator("td").nth(1).text_content() == left
    page.shot("arena")


def test_run_a_challenge_and_see_each_picture_passed_or_failed(page):
    page.goto(page.server.url + "/static/challenges.html")
    page.wait_for_selector("#challenge-key option[value='time']", state="attached")
    page.select_option("#challenge-key", "time")
    page.expect(page.locator("#challenge-about")).to_contain_text("11:23")
    page.fill("#challenge-seeds", "2")
    page.click("#challenge-run")
    page.expect(page.locator("#challenge-status")).to_have_text(re.compile(r"^Passed \d of 2\.$"), timeout=SLOW_MS)
    cards = page.locator("#challenge-grid figure")
    page.expect(cards).to_have_count(2)
    for i in range(2):
        caption = cards.nth(i).locator("figcaption").text_content()
        assert re.match(r"^(PASS seed \d$|FAIL seed \d: .+)", caption), caption  # a failure says why
    passed = int(page.text_content("#challenge-status").split()[1])
    assert passed == page.locator("#challenge-grid .pass").count()
    page.shot("challenges")

    page.select_option("#challenge-key", "hands")
    page.expect(page.locator("#challenge-about")).to_contain_text("scope")
    assert page.is_disabled("#challenge-run")

    page.select_option("#challenge-key", "counting")
    page.check("#challenge-plan")
    page.click("#challenge-run")  # this server has no layout ControlNet: the page shows the server's reason
    page.expect(page.locator("#challenge-error")).to_contain_text("layout ControlNet", timeout=30_000)
