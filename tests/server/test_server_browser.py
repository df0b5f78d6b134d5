"""The web page in a real browser: Playwright driving Debian's chromium, headless.

Needs /usr/bin/chromium (scripts/install_browser.sh); skipped without it, except when
PIXELDRIFT_REQUIRE_BROWSER=1 (CI), where a missing browser fails the run. Screenshots
go to $PIXELDRIFT_ARTIFACTS (default: the test's temporary folder).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.watermark import embed_watermark
from pixeldrift.server.control_catalog import ControlCatalog

CHROMIUM = "/usr/bin/chromium"


def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (run scripts/install_browser.sh)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install playwright)"
    return None


@pytest.fixture
def page(request, tmp_path):
    missing = _browser_missing()
    if missing:
        if os.environ.get("PIXELDRIFT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PIXELDRIFT_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import expect, sync_playwright

    server = request.getfixturevalue("live_server")(**getattr(request, "param", {}))  # indirect: server settings
    artifacts = Path(os.environ.get("PIXELDRIFT_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server.url + "/")
            page.server, page.errors, page.expect = server, errors, expect
            page.shot = lambda name: page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
            yield page
            assert errors == [], errors
        finally:
            browser.close()


def wait_until(page, expression: str, timeout_s: float = 30.0) -> None:
    """Poll a JavaScript expression from here until it is true: page.wait_for_function polls inside the page
    with eval(), which the page's Content-Security-Policy forbids (it only passes when true at once)."""
    for _ in range(int(timeout_s / 0.05)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"still false after {timeout_s:g} s: {expression}")


def paint_stroke(page, mask_canvas: str, image_canvas: str, to: tuple[float, float]) -> None:
    """One stroke on a mask painter, from near its top-left corner to `to` (fractions of its size). The image
    under it loads asynchronously and clears the mask when it lands: paint only after that (under load the stroke
    was otherwise wiped, and the inpaint changed nothing)."""
    canvas = page.locator(mask_canvas)
    canvas.wait_for(state="visible")
    wait_until(page, f"document.getElementById('{image_canvas}').getContext('2d').getImageData(0, 0, 1, 1).data[3] > 0")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * to[0], box["y"] + box["height"] * to[1], steps=12)
    page.mouse.up()


def wait_done(page) -> None:
    # expect() polls without eval(), which the page's Content-Security-Policy forbids
    page.expect(page.locator("#status")).to_have_text(re.compile(r"^Done"), timeout=60_000)


def test_type_generate_reload_and_find_it_in_the_gallery(page):
    page.wait_for_selector("#model option[value='pixeldrift-cpu']", state="attached")
    page.fill("#prompt", "three red circles above a blue square")
    page.fill("#steps", "6")
    page.press("#prompt", "Control+Enter")
    wait_done(page)
    result = page.locator("#results .card img").first
    result.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", result.element_handle()) == 64
    assert "seed" in page.locator("#results .card figcaption").first.inner_text()
    page.shot("studio-generated")
    page.reload()
    page.fill("#gallery-search", "red circles")
    page.expect(page.locator("#gallery-count")).to_have_text("1 image(s)")
    caption = page.locator("#gallery-list .card figcaption").first.inner_text()
    assert caption.startswith("three red circles above a blue square") and "6 steps" in caption
    page.fill("#gallery-search", "green elephants")
    page.expect(page.locator("#gallery-count")).to_have_text("0 image(s)")
    page.shot("studio-gallery-search")


def test_paint_a_mask_and_inpaint(page):
    page.wait_for_selector("#model option[value='pixeldrift-cpu']", state="attached")
    page.fill("#prompt", "a blue square")
    page.fill("#steps", "4")
    page.click("#generate")
    wait_done(page)
    page.locator("#results .card button[data-action=inpaint]").first.click()
    paint_stroke(page, "#mask-canvas", "init-canvas", (0.4, 0.9))
    page.shot("studio-mask-painted")
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/api/jobs") else None)
    page.fill("#prompt", "a red star")
    page.click("#generate")
    page.expect(page.locator("#results figcaption").first).to_have_text(re.compile(r"^a red star"), timeout=60_000)
    wait_done(page)
    page.shot("studio-inpainted")
    studio = page.server.app.state.studio
    rows, _ = studio.gallery.search("red star")
    assert len(rows) == 1 and rows[0]["kind"] == "inpaint" and rows[0]["settings"]["has_mask"]

    # What the page sent: a mask painted where the stroke went (on the left), nothing on the right.
    assert len(sent) == 1 and sent[0]["kind"] == "inpaint"
    mask = _decode_data_url(sent[0]["mask"]).convert("L")
    mask = np.asarray(mask.resize((64, 64), Image.NEAREST)) >= 128
    assert mask[:, :16].mean() > 0.2 and not mask[:, 48:].any()

    # What the server kept: outside the painted mask and its feathered edge the result is the start image
    # with this image's own watermark added, exactly; this holds whatever the model paints inside.
    source, _ = studio.gallery.search("blue square")
    before = np.asarray(Image.open(studio.gallery.path_of(source[0]["id"])).convert("RGB"))
    after_png = studio.gallery.path_of(rows[0]["id"]).read_bytes()
    after = np.asarray(Image.open(io.BytesIO(after_png)).convert("RGB"))
    expected = embed_watermark(before, read_labels(after_png).label["watermark"]["id"])
    far_outside = ~_dilate(mask, radius=3 * sent[0].get("mask_blur", GenerationRequest.mask_blur))
    assert far_outside.sum() > 500
    np.testing.assert_array_equal(after[far_outside], expected[far_outside])
    assert (after[mask] != expected[mask]).any()  # and inside, something was painted


def _decode_data_url(url: str) -> Image.Image:
    header, _, payload = url.partition(",")
    assert header == "data:image/png;base64", header
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Every pixel within `radius` (Chebyshev distance) of a True pixel."""
    padded = np.pad(mask, radius)
    out = np.zeros_like(mask)
    height, width = mask.shape
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[dy:dy + height, dx:dx + width]
    return out


def test_phone_width_layout_has_no_sideways_scrolling(page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_selector("#model option[value='pixeldrift-cpu']", state="attached")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    form, output = page.locator("#generate-form").bounding_box(), page.locator("#output").bounding_box()
    assert output["y"] >= form["y"] + form["height"]  # one column: the results come below the form
    page.shot("studio-phone")


def _generate(page, batch: int = 1) -> None:
    page.wait_for_selector("#model option[value='pixeldrift-cpu']", state="attached")
    page.fill("#prompt", "a red circle")
    page.fill("#steps", "2")
    page.fill("#batch", str(batch))
    page.click("#generate")
    wait_done(page)
    page.locator("#results .card img").first.wait_for()


def test_results_show_large_and_crisp_with_their_buttons_on_one_line(page):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    _generate(page)
    image = page.locator("#results .card img").first
    panel = page.locator("#output").bounding_box()
    assert image.bounding_box()["width"] > 0.8 * panel["width"]   # the 64x64 image fills the panel
    assert image.evaluate("(img) => getComputedStyle(img).imageRendering") == "pixelated"
    buttons = page.locator("#results .card .card-actions > *")
    tops = {round(buttons.nth(i).bounding_box()["y"]) for i in range(buttons.count())}
    assert buttons.count() == 6 and len(tops) == 1   # img2img, Inpaint, Restore, Reuse, Save, Delete
    gallery_buttons = page.locator("#gallery-list .card .card-actions > *")
    assert len({round(gallery_buttons.nth(i).bounding_box()["y"]) for i in range(6)}) == 1
    assert missing == []
    page.shot("studio-result-large")


def test_a_batch_shows_as_a_grid(page):
    _generate(page, batch=4)
    boxes = [page.locator("#results .card").nth(i).bounding_box() for i in range(4)]
    assert len({round(b["x"]) for b in boxes}) == 2 and len({round(b["y"]) for b in boxes}) == 2


def test_on_a_phone_the_page_scrolls_to_the_result(page):
    page.set_viewport_size({"width": 390, "height": 844})
    _generate(page)
    page.expect(page.locator("#results .card img").first).to_be_in_viewport(ratio=0.9)
    page.shot("studio-phone-result")


# ----- control images and plan-then-draw: checked by what the page sent and shows, not by what the model draws

SHIPPED = Path(__file__).parents[2] / "models"
WITH_CONTROLS = {"controls": lambda models: ControlCatalog.load([str(SHIPPED / "cn-edges"), str(SHIPPED / "cn-layout")],
                                                                models, "cpu")}


def _watch_posts(page, path: str) -> list:
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith(path) and r.method == "POST"
            else None)
    return sent


def _ready(page, prompt: str) -> None:
    page.wait_for_selector("#control-model option[value='cn-layout']", state="attached")
    page.fill("#prompt", prompt)
    page.fill("#steps", "3")


@pytest.mark.parametrize("page", [WITH_CONTROLS], indirect=True)
def test_scribble_a_control_image_and_see_its_map_beside_the_result(page):
    _ready(page, "a red circle")
    page.check("#control-on")
    page.select_option("#control-model", "cn-edges")
    page.select_option("#control-module", "none")
    page.fill("#control-weight", "1.5")
    page.fill("#control-end", "0.8")
    canvas = page.locator("#control-canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.15 * box["width"], box["y"] + 0.1 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.9 * box["height"], steps=10)
    page.mouse.up()
    page.shot("studio-control-scribbled")
    jobs, maps = _watch_posts(page, "/api/jobs"), _watch_posts(page, "/api/control/map")
    page.click("#generate")
    wait_done(page)
    page.locator("#results .card img").first.wait_for()
    page.expect(page.locator("#control-map")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.shot("studio-control-result")

    # What the page sent: one control with the chosen settings, its image the scribble (white on the left only).
    assert len(jobs) == 1 and len(maps) == 1
    control = jobs[0]["controls"][0]
    assert {k: control[k] for k in ("model", "module", "weight", "start", "end", "resize")} == {
        "model": "cn-edges", "module": "none", "weight": 1.5, "start": 0, "end": 0.8, "resize": False}
    drawn = np.asarray(_decode_data_url(control["image"]).convert("L"))
    assert drawn.shape == (64, 64) and (drawn[:, :24] > 128).sum() > 30 and not (drawn[:, 40:] > 128).any()
    assert maps[0] == {"image": control["image"], "module": "none", "width": 64, "height": 64, "resize": False}

    # What it shows: the map (module none: the scribble itself) beside the result, which the control made.
    shown = page.locator("#control-map")
    assert shown.evaluate("(img) => img.complete && img.naturalWidth") == 64
    src = shown.get_attribute("src")
    assert np.array_equal(np.asarray(_decode_data_url(src).convert("L")), drawn)
    result, map_box = page.locator("#results .card img").first.bounding_box(), shown.bounding_box()
    assert map_box["x"] >= result["x"] + result["width"] and abs(map_box["y"] - result["y"]) < 20
    assert "none map for cn-edges, strength 1.5" in page.locator("#control-caption").inner_text()
    rows, _ = page.server.app.state.studio.gallery.search("red circle")
    assert rows[0]["settings"]["controls"] == [{"model": "cn-edges", "module": "none", "weight": 1.5,
                                                "guidance_start": 0.0, "guidance_end": 0.8}]


@pytest.mark.parametrize("page", [WITH_CONTROLS], indirect=True)
def test_an_uploaded_map_of_another_size_is_refused_until_resize_is_ticked(page, tmp_path):
    upload = tmp_path / "photo.png"
    pixels = np.zeros((48, 48, 3), np.uint8)
    pixels[10:30, 12:36] = (200, 60, 60)
    Image.fromarray(pixels).save(upload)
    _ready(page, "a red square")
    page.check("#control-on")
    page.select_option("#control-module", "edges")
    page.set_input_files("#control-file", str(upload))
    wait_until(page, "document.getElementById('control-canvas').width === 48")
    page.click("#generate")
    page.expect(page.locator("#error")).to_contain_text("is 48x48 but the image to generate is 64x64")
    jobs = _watch_posts(page, "/api/jobs")
    page.check("#control-resize")
    page.click("#generate")
    wait_done(page)
    page.expect(page.locator("#control-map")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert jobs[0]["controls"][0]["resize"] is True and jobs[0]["controls"][0]["module"] == "edges"
    edges = np.asarray(_decode_data_url(page.locator("#control-map").get_attribute("src")).convert("L"))
    assert edges.shape == (64, 64) and set(np.unique(edges)) == {0, 255}   # the resized photo's edges
    page.shot("studio-control-uploaded")


@pytest.mark.parametrize("page", [WITH_CONTROLS], indirect=True)
def test_plan_then_draw_shows_the_plans_boxes_over_the_image(page):
    _ready(page, "two red circles left of a blue square")
    page.check("#plan")
    jobs = _watch_posts(page, "/api/jobs")
    page.click("#generate")
    wait_done(page)
    boxes = page.locator("#results .card .plan-boxes g")
    page.expect(boxes).to_have_count(3)
    page.shot("studio-plan-boxes")
    assert jobs[0]["plan"] is True and "controls" not in jobs[0]

    # The boxes drawn are the returned plan's, over the image where the plan put them.
    rows, _ = page.server.app.state.studio.gallery.search("blue square")
    plan = rows[0]["settings"]["plan"]
    image = page.locator("#results .card img").first.bounding_box()
    scale = image["width"] / plan["size"]
    drawn = []
    for i in range(3):
        group = boxes.nth(i)
        rect = group.locator("rect").bounding_box()
        drawn.append((group.get_attribute("data-label"), [rect["x"] - image["x"], rect["y"] - image["y"],
                                                          rect["x"] + rect["width"] - image["x"],
                                                          rect["y"] + rect["height"] - image["y"]]))
        assert group.locator("text").text_content() == group.get_attribute("data-label")
    for (label, box), planned in zip(drawn, plan["objects"]):
        assert label == planned["label"]
        np.testing.assert_allclose(box, [v * scale for v in planned["box"]], atol=3)  # 2 px stroke, rounding
    link = page.locator("#results .card a[data-action=plan]")
    href = link.get_attribute("href")
    assert href.startswith("data:application/json,")
    assert json.loads(urllib.parse.unquote(href.split(",", 1)[1])) == plan
