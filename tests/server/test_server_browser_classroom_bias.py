"""Prompt augmentation on the studio's form and the bias audit page, in a real browser (test_server_browser's `page`)."""

from __future__ import annotations

import json
import re
import urllib.request

from pixeldrift.classroom.augment import augment
from pixeldrift.provenance.label import read_labels
from test_server_browser import page, wait_done, wait_until  # noqa: F401  (the browser fixture and its helpers)

SLOW_MS = 180_000  # an audit (400 training renders, 4 pictures) on a shared 2-core machine


def _get(page, path: str):
    with urllib.request.urlopen(page.server.url + path) as answer:
        body = answer.read()
        return json.loads(body) if answer.headers["content-type"].startswith("application/json") else body


def _sent(page, path: str) -> list:
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.method == "POST" and r.url.endswith(path)
            else None)
    return sent


def test_augment_shows_the_rewrite_before_the_image_and_stores_it(page):
    jobs, previews = _sent(page, "/api/jobs"), _sent(page, "/api/augment")
    page.wait_for_selector("#model option[value='pixeldrift-cpu']", state="attached")
    assert not page.is_checked("#augment")   # off by default
    page.fill("#prompt", "a little star")
    page.fill("#seed", "4")
    page.fill("#steps", "2")
    page.click("#augment-preview")           # the rewrite alone: nothing generated
    rewrite = augment("a little star", 4)
    page.expect(page.locator("#augment-preview-text")).to_have_text(
        f'Rewrite (nothing generated): "{rewrite.prompt}" ({rewrite.describe()}; seed 4)')
    assert previews == [{"prompt": "a little star", "seed": 4, "fill": "explicit"}]
    assert _get(page, "/api/jobs")["jobs"] == []

    page.check("#augment")
    page.click("#generate")
    page.expect(page.locator("#augment-shown")).to_have_text(
        f'Augmented: the model draws "{rewrite.prompt}" ({rewrite.describe()}; seed 4)')
    wait_done(page)
    assert jobs[0]["augment"] is True and jobs[0]["augment_fill"] == "explicit" and jobs[0]["prompt"] == "a little star"
    caption = page.locator("#results .card figcaption").first.inner_text()
    assert caption.startswith(rewrite.prompt) and caption.endswith('augmented from "a little star"')
    row = _get(page, "/api/gallery")["images"][0]
    record = read_labels(_get(page, row["url"])).record
    assert record.prompt == rewrite.prompt and record.extra["Original prompt"] == "a little star"
    page.shot("studio-augmented")

    page.select_option("#augment-fill", "phrasing")
    page.fill("#prompt", "a white cat")      # outside the world: the server's refusal, shown
    page.click("#augment-preview")
    page.expect(page.locator("#augment-preview-text")).to_contain_text("challenge-world prompts only")
    page.uncheck("#augment")
    page.fill("#prompt", "a little star")
    page.click("#generate")
    page.expect(page.locator("#augment-shown")).to_be_hidden()
    page.expect(page.locator("#results .card figcaption").first).not_to_contain_text("augmented", timeout=60_000)
    assert "augment" not in jobs[1]


def test_the_audit_page_runs_an_audit_and_shows_the_reports_distributions(page):
    sent = _sent(page, "/api/audit")
    page.click("text=Bias audit")
    page.wait_for_selector("#audit-choice option[value='some circles']", state="attached")
    page.expect(page.locator("#audit-choice")).to_have_value("some circles")
    page.expect(page.locator("#audit-about")).to_contain_text("leaves open: count, colour, size, position")
    page.fill("#audit-prompt", "a dragon")   # refused by the server, which names why; nothing queued
    page.click("#audit-run")
    page.expect(page.locator("#audit-error")).to_contain_text("prompt")
    assert _get(page, "/api/jobs")["jobs"] == []

    page.fill("#audit-prompt", "")
    page.fill("#audit-seeds", "4")
    page.fill("#audit-steps", "2")
    page.click("#audit-run")
    page.expect(page.locator("#audit-status")).to_have_text("Done.", timeout=SLOW_MS)
    assert sent[-1] == {"prompt": "some circles", "seeds": 4, "seed": 0, "steps": 2}
    job = _get(page, "/api/jobs")["jobs"][0]
    assert job["kind"] == "audit" and job["status"] == "succeeded"
    report = _get(page, f"/api/audit/{job['id']}")["report"]

    rows = page.locator("#audit-summary tbody tr")
    page.expect(rows).to_have_count(len(report["audits"]))
    for i, a in enumerate(report["audits"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).text_content() == a["attribute"] and cells.nth(1).text_content() == a["majority"]
        amplification = "never in training" if a["amplification"] is None else f"{a['amplification']:.2f}x"
        assert cells.nth(4).text_content() == amplification
        table = page.locator(f"#audit-distributions table[data-attribute='{a['attribute']}']")
        majority = table.locator("tr.majority td")
        assert majority.nth(0).text_content() == a["majority"]
        share = 100 * a["outputs"][a["majority"]] / sum(a["outputs"].values())
        assert majority.nth(1).text_content() == f"{a['outputs'][a['majority']]} ({share:.1f}%)"
    colour = page.locator("#audit-distributions table[data-attribute='colour'] tr")
    page.expect(colour).to_have_count(1 + len(report["audits"][1]["values"]))   # a row per colour, header first
    wait_until(page, "document.getElementById('audit-chart').naturalWidth > 300 && "
                     "document.getElementById('audit-outputs').naturalWidth === 4 * 64 + 3 * 2")
    assert page.get_attribute("#audit-markdown", "href").startswith("data:text/markdown,")
    page.shot("audit")
