"""Spot the AI in a real browser (chromium, headless): a round, ticks, the server's answers shown once."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from test_server_browser import CHROMIUM, _browser_missing, wait_until


@pytest.fixture
def spot_page(live_server, tmp_path):
    missing = _browser_missing()
    if missing:
        if os.environ.get("PIXELDRIFT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PIXELDRIFT_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import expect, sync_playwright

    server = live_server()
    artifacts = Path(os.environ.get("PIXELDRIFT_ARTIFACTS") or tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors, answers = [], []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: answers.append(r) if r.url.endswith("/answer") else None)
            page.goto(server.url + "/")
            page.click("text=Spot the AI")
            page.expect, page.answers = expect, answers
            yield page
            page.screenshot(path=str(artifacts / "spot_the_ai.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()


def test_play_a_round_and_see_the_truth(spot_page):
    page = spot_page
    wait_until(page, "document.querySelectorAll('#spot-grid img').length === 10", 120)
    wait_until(page, "[...document.querySelectorAll('#spot-grid img')].every(i => i.complete && i.naturalWidth === 64)")
    page.check("#spot-grid figure[data-index='1'] input")
    page.check("#spot-grid figure[data-index='4'] input")
    page.click("#spot-check")
    page.expect(page.locator("#spot-score")).to_have_text(re.compile(r"^You: \d+ of 10 right\. The detector"))
    result = page.answers[-1].json()
    assert [p["index"] for p in result["pictures"] if p["marked"]] == [1, 4]
    for picture in result["pictures"]:
        card = page.locator(f"#spot-grid figure[data-index='{picture['index']}']")
        page.expect(card).to_have_class(re.compile("right" if picture["correct"] else "wrong"))
        truth = "AI-generated" if picture["generated"] else "a render"
        page.expect(card.locator(".spot-truth")).to_contain_text(truth)
        page.expect(card.locator("li").first).to_have_text(picture["detector"]["reasons"][0])
    assert page.locator("#spot-check").is_disabled()
    assert page.locator(".spot-mark:enabled").count() == 0
    page.click("#spot-new")          # a new round: fresh pictures, ticks cleared, checking allowed again
    wait_until(page, "!document.querySelector('.spot-truth') && document.querySelectorAll('.spot-mark').length === 10"
                     " && !document.getElementById('spot-check').disabled", 120)
