"""The studio's LoRA / embedding picker in a real browser (issue 19): it lists what the server serves, writes
<lora:NAME:WEIGHT> (once per LoRA) and embedding words into the prompt, and the job applies what it wrote."""

from __future__ import annotations

import json

from pixeldrift.server.adapters import AdapterCatalog
from test_server_adapters import folders  # noqa: F401  (the module's LoRA and embedding files)
from test_server_browser import page, wait_done  # noqa: F401  (the browser fixture and its helpers)


def test_the_picker_writes_tags_that_the_job_applies(page, folders):  # noqa: F811
    page.expect(page.locator("#model option")).not_to_have_count(0)
    assert page.locator("#adapter-picker").is_hidden()      # a server without --loras/--embeddings
    studio = page.server.app.state.studio
    studio.adapters = AdapterCatalog.load(folders / "loras", folders / "embeddings")
    page.reload()
    page.expect(page.locator("#adapter-picker")).to_be_visible()
    assert page.evaluate("[...document.querySelectorAll('#adapter-name option')].map(o => o.value)") == \
        ["lora:crescent", "embedding:sks"]
    page.fill("#prompt", "a red circle")
    page.select_option("#adapter-name", "lora:crescent")
    page.fill("#adapter-weight", "0.5")
    page.click("#adapter-add")
    page.fill("#adapter-weight", "0.75")
    page.click("#adapter-add")               # the same LoRA again: its weight changes, no second tag
    page.select_option("#adapter-name", "embedding:sks")
    page.fill("#adapter-weight", "1")
    page.click("#adapter-add")
    prompt = "a red circle <lora:crescent:0.75> sks"
    assert page.input_value("#prompt") == prompt
    page.fill("#adapter-weight", "12")
    page.click("#adapter-add")               # out of range: refused in the form, the prompt unchanged
    assert page.input_value("#prompt") == prompt
    assert not page.evaluate("document.getElementById('adapter-weight').checkValidity()")
    page.fill("#adapter-weight", "1")       # a weight in range again: the form may be sent
    assert page.evaluate("document.getElementById('adapter-weight').checkValidity()")
    page.fill("#steps", "2")
    with page.expect_request("**/api/jobs") as sent:
        page.click("#generate")
    assert json.loads(sent.value.post_data)["prompt"] == prompt
    wait_done(page)
    rows = studio.gallery.search("", 10, 0)[0]
    assert [row["prompt"] for row in rows] == [prompt]
    extra = rows[0]["settings"]["record"]["extra"]
    assert extra["Lora hashes"].startswith("crescent: ") and extra["TI hashes"].startswith("sks: ")
    page.expect(page.locator("#results figcaption")).to_contain_text("<lora:crescent:0.75>")
    page.shot("adapter-picker")
