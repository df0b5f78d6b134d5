"""The studio's Restore panel in a real browser (issue 21): "Restore" on a result card sends that image's own PNG,
simulated and degraded by the task, and the panel shows the input, the measurement the server restored and the
labelled result, which the gallery then holds; an uploaded file with its holes painted is inpainted as given; a
refused request shows the server's reason."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from test_server_browser import page, paint_stroke, wait_done, wait_until  # noqa: F401  (the browser fixture, helpers)

LOADED = "(() => {{ const i = document.getElementById('{}'); return i.complete && i.naturalWidth === {}; }})()"


def data_url_bytes(url: str) -> bytes:
    header, data = url.split(",", 1)
    assert re.fullmatch(r"data:image/png;base64", header), header
    return base64.b64decode(data)


def restore(page) -> tuple[dict, dict]:
    """Click the panel's button; (the JSON it sent, the answer) once the page shows the answer."""
    with page.expect_request("**/api/restore") as sent, page.expect_response("**/api/restore") as answered:
        page.click("#restore-make")
    page.expect(page.locator("#restore-status")).to_have_text("Done.", timeout=60_000)
    return sent.value.post_data_json, answered.value.json()


def test_restore_a_card_and_a_painted_upload_in_the_panel(page, tmp_path):  # noqa: F811
    page.wait_for_selector("#restore-task option[value='deblur']", state="attached")
    page.select_option("#restore-task", "sr4")
    page.uncheck("#restore-simulate")
    page.expect(page.locator("#restore-size")).to_have_text("sr4: a quarter of the model's size, restored 4x. A "
                                                             "degraded 16x16 image, restored to 64x64.")
    assert page.locator("#restore-shown").is_hidden() and page.input_value("#restore-steps") == "50"
    page.fill("#prompt", "a red circle")
    page.fill("#steps", "2")
    page.click("#generate")
    wait_done(page)

    # "Restore" on the result card: its labelled PNG, byte for byte, degraded by the task (simulate), restored
    page.locator("#results .card [data-action=restore]").first.click()
    page.expect(page.locator("#restore-shown")).to_be_visible()
    assert page.is_checked("#restore-simulate") and page.input_value("#restore-prompt") == "a red circle"
    page.select_option("#restore-task", "deblur")
    page.expect(page.locator("#restore-size")).to_have_text("deblur: a Gaussian blur (sigma 2). Simulate: a clean "
                                                             "64x64 image, degraded by deblur, then restored.")
    page.fill("#restore-steps", "2")
    page.fill("#restore-seed", "5")
    sent, answer = restore(page)
    studio = page.server.app.state.studio
    source = studio.gallery.search("red circle")[0][-1]
    assert data_url_bytes(sent.pop("image")) == studio.gallery.path_of(source["id"]).read_bytes()
    assert sent == {"image_name": f"gallery image {source['id']}", "task": "deblur", "method": "dps",
                    "simulate": True, "prompt": "a red circle", "steps": 2, "seed": 5, "noise": 0.05,
                    "sampler": "euler_ancestral", "model": "pixeldrift-cpu"}
    for image in ("restore-input", "restore-measurement", "restore-output"):
        wait_until(page, LOADED.format(image, 64))
    assert page.get_attribute("#restore-measurement", "src") == answer["measurement"]
    assert page.get_attribute("#restore-output", "src") == answer["image"]["url"]
    assert page.inner_text("#restore-measurement-caption") == "Measurement (simulated): 64x64"
    label = page.inner_text("#restore-label")
    assert label.startswith("AI-generated | 64x64, 2 steps, euler_ancestral, seed 5, pixeldrift-cpu | restored: "
                            "deblur by dps, zeta 0.1875, noise 0.05, measurement simulated, from gallery image")
    row = studio.gallery.get(answer["image"]["id"])
    assert row["kind"] == "restore" and row["settings"]["record"]["extra"]["Restore"] == "deblur"
    page.expect(page.locator("#gallery-count")).to_have_text("2 image(s)")
    assert "restored: deblur by dps" in page.locator("#gallery-list .card figcaption").first.inner_text()
    page.shot("studio-restore-deblur")

    # An uploaded file, its holes painted: inpainted as given
    upload = tmp_path / "holed.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(upload)
    page.set_input_files("#restore-file", str(upload))
    page.expect(page.locator("#restore-source")).to_have_text("From the file holed.png.")
    assert page.locator("#restore-result").is_hidden()
    page.select_option("#restore-task", "inpaint")
    page.uncheck("#restore-simulate")
    paint_stroke(page, "#restore-mask-canvas", "restore-canvas", (0.3, 0.9))
    sent, answer = restore(page)
    assert data_url_bytes(sent["image"]) == upload.read_bytes() and sent["image_name"] == "holed.png"
    mask = np.asarray(Image.open(io.BytesIO(data_url_bytes(sent["mask"]))).convert("L")) >= 128
    assert mask.shape == (64, 64) and mask[:, :16].mean() > 0.2 and not mask[:, 40:].any()
    extra = answer["record"]["extra"]
    assert (extra["Restore"], extra["Measurement"], extra["Restored from"]) == ("inpaint", "given", "holed.png")
    measured = np.asarray(Image.open(io.BytesIO(data_url_bytes(answer["measurement"]))).convert("RGB")).astype(int)
    assert np.abs(measured[mask] - 128).mean() < 6 and np.abs(measured[:, 40:] - 128).mean() > 30  # the holes grey
    wait_until(page, LOADED.format("restore-output", 64))
    assert page.inner_text("#restore-measurement-caption") == "Measurement: 64x64"
    page.shot("studio-restore-inpaint")

    # Refused: a deblurring measurement of a size the model does not make, with the server's reason
    small = tmp_path / "small.png"
    Image.new("RGB", (20, 20), "white").save(small)
    page.set_input_files("#restore-file", str(small))
    page.expect(page.locator("#restore-source")).to_have_text("From the file small.png.")
    page.select_option("#restore-task", "deblur")
    page.click("#restore-make")
    page.expect(page.locator("#restore-error")).to_contain_text(
        "a deblur measurement of 20x20 restores to 20x20, which pixeldrift-cpu cannot make")
    assert studio.gallery.count() == 3
