"""The studio's video panel in a real browser (issue 22): without a video model it says so and the cards offer no
"To video"; with one it sends text-to-video and, from a result card, image-to-video with that image's own PNG as
the first frame, plays the MP4 the server answers with in a <video> and shows the clip's label and record; "Plan the
motion" is offered where the server plans, sent as plan: true, and unticked and off while a first frame is set."""

from __future__ import annotations

import base64
import json
import re

from pixeldrift.server.video_api import CLIPS, ServedVideo
from test_server_browser import _generate, page, wait_done, wait_until  # noqa: F401  (the browser fixture, helpers)
from test_server_video import video_dir  # noqa: F401  (the tiny video model's folder)

PLAYING = ("(() => { const v = document.getElementById('video-player'); "
           "return !v.hidden && v.readyState >= 2 && v.videoWidth === 32 && v.src.endsWith('/clip.mp4'); })()")


def make_clip(page) -> dict:
    """Click the panel's button; the JSON it sent, once the page shows the clip it got back."""
    with page.expect_request("**/api/video") as sent:
        page.click("#video-make")
    page.expect(page.locator("#video-status")).to_have_text("Done.", timeout=60_000)
    wait_until(page, PLAYING)
    return json.loads(sent.value.post_data)


def test_text_and_image_to_video_play_in_the_page(page, video_dir):  # noqa: F811
    page.expect(page.locator("#video-none")).to_be_visible()      # a server without --video
    assert page.locator("#video-tools").is_hidden()
    page.wait_for_selector("#model option[value='pixeldrift-cpu']", state="attached")
    page.fill("#prompt", "a red circle")
    page.fill("#steps", "2")
    page.click("#generate")
    wait_done(page)
    assert page.locator("#results .card img").count() == 1 and page.locator("[data-action=video]").count() == 0

    studio = page.server.app.state.studio
    studio.video = ServedVideo.load(video_dir, "cpu", studio.settings.gallery_dir)
    page.reload()
    page.expect(page.locator("#video-tools")).to_be_visible()
    assert page.locator("#video-none").is_hidden()
    assert page.input_value("#video-frames") == "8" and page.get_attribute("#video-frames", "max") == "16"

    # Text to video: the panel's prompt alone
    page.fill("#video-prompt", "a blue square falling")
    page.fill("#video-steps", "2")
    page.fill("#video-seed", "4")
    assert page.inner_text("#video-make") == "Text to video"
    sent = make_clip(page)
    assert sent == {"prompt": "a blue square falling", "any_prompt": False, "seed": 4, "frames": 8, "fps": 8,
                    "steps": 2, "guidance": None}
    label = page.inner_text("#video-label")
    assert label.startswith("AI-generated (labelled in the MP4 and the GIF") and "| a blue square falling |" in label
    assert "8 frames at 8 fps, 32x32, 2 steps" in label and "seed 4" in label and "first frame" not in label
    mp4_link = page.get_attribute("#video-mp4-link", "href")
    assert re.fullmatch(r"/api/video/[0-9a-f]{32}/clip\.mp4\?download=1", mp4_link)
    assert page.get_attribute("#video-gif-link", "href") == mp4_link.replace(".mp4", ".gif")
    page.shot("studio-text-to-video")

    # Image to video: the gallery card's image, as the gallery keeps it, is the first frame (64 px: resized)
    page.locator("#gallery-list .card [data-action=video]").first.click()
    page.expect(page.locator("#video-first")).to_be_visible()
    assert page.input_value("#video-prompt") == "a red circle"        # its prompt, to say how it moves
    assert "64x64" in page.inner_text("#video-first-caption") and "the model makes 32x32" in \
        page.inner_text("#video-first-caption")
    assert page.inner_text("#video-make") == "Image to video"
    page.fill("#video-prompt", "a red circle moving left")
    sent = make_clip(page)
    row = studio.gallery.search("red circle")[0][0]
    header, data = sent.pop("first_frame").split(",", 1)
    assert header == "data:image/png;base64"
    assert base64.b64decode(data) == studio.gallery.path_of(row["id"]).read_bytes()
    assert sent["prompt"] == "a red circle moving left" and sent["resize"] is True
    assert sent["image_guidance"] is None
    assert "first frame resized from 64x64 by Lanczos" in page.inner_text("#video-label")
    clips = sorted(p.suffix for p in (studio.settings.gallery_dir / CLIPS).iterdir())
    assert clips == [".gif", ".gif", ".json", ".json", ".mp4", ".mp4"]
    page.shot("studio-image-to-video")

    # Unticked, another size is refused with the server's reason; a word the world does not know too
    page.uncheck("#video-resize")
    page.click("#video-make")
    page.expect(page.locator("#video-error")).to_contain_text("first_frame is 64x64; this video model makes 32x32")
    page.click("#video-first-clear")
    assert page.locator("#video-first").is_hidden() and page.inner_text("#video-make") == "Text to video"
    page.fill("#video-prompt", "a red circle moving sideways")
    page.click("#video-make")
    page.expect(page.locator("#video-error")).to_contain_text("motion 'moving sideways' is not known")
    page.check("#video-any")
    make_clip(page)
    assert page.locator("#video-error").is_hidden()


def test_plan_the_motion_is_offered_where_the_server_plans(page, video_dir, acting_video_dir,  # noqa: F811
                                                           acting_controlnet_dir):
    studio = page.server.app.state.studio
    studio.video = ServedVideo.load(video_dir, "cpu", studio.settings.gallery_dir)   # no plan ControlNet
    page.reload()
    page.expect(page.locator("#video-tools")).to_be_visible()
    assert page.locator("#video-plan-label").is_hidden()

    studio.video = ServedVideo.load(acting_video_dir, "cpu", studio.settings.gallery_dir, acting_controlnet_dir)
    page.reload()
    page.expect(page.locator("#video-plan-label")).to_be_visible()
    page.fill("#video-prompt", "a blue square falling")
    page.fill("#video-steps", "2")
    page.fill("#video-seed", "4")
    page.check("#video-plan")
    sent = make_clip(page)
    assert sent["plan"] is True and "first_frame" not in sent
    assert 'planned as "' in page.inner_text("#video-label") and "(cn, strength 2)" in page.inner_text("#video-label")
    page.shot("studio-planned-video")

    # A first frame unticks the box and turns it off (the server refuses a plan with one); without it, it is back
    _generate(page)
    page.locator("#gallery-list .card [data-action=video]").first.click()
    page.expect(page.locator("#video-first")).to_be_visible()
    assert page.is_disabled("#video-plan") and not page.is_checked("#video-plan")
    page.click("#video-first-clear")
    assert page.is_enabled("#video-plan")
