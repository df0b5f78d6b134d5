"""POST /api/video on a tiny random video model (32 px, 2 steps): the clip comes back as a labelled MP4 that decodes
to its frames and a labelled GIF, a given first frame is the clip's first frame, the clip runs on the job worker
behind image jobs, every bad field is a 4xx naming it with nothing queued or written, and a clip cut short leaves
no files. A planned clip (plan: true) is the video model's clip of the plan's caption steered by the layout ControlNet,
on a server whose ControlNet was trained on the video model's spatial UNet; with another, the server runs without
plans and says why. `pixeldrift serve --video` picks the folder (models/video by default when it exists),
--video-plan-control the plan's ControlNet (models/cn-layout)."""

from __future__ import annotations

import base64
import io
import json
import logging

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pixeldrift.nets.temporal import TemporalConfig
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.controlnet_folder import base_record, load_controlnet, new_controlnet, save_controlnet
from pixeldrift.pipeline.pixels import images_to_pixels
from pixeldrift.pipeline.video_files import gif_bytes
from pixeldrift.pipeline.video_folder import load_video_model, save_video_model
from pixeldrift.pipeline.video_model import TextToVideo, VideoSettings
from pixeldrift.pipeline.video_plan import ClipControl, plan_clip
from pixeldrift.provenance.label import AI_STATEMENT
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.server import video_api
from pixeldrift.server.video_api import ClipStore, ServedVideo
from server_helpers import GatedModel, png_base64, queued_behind_an_image_job
from test_server_bad_input import bomb_png

PROMPT = "a red circle moving right"
FAST = {"prompt": PROMPT, "seed": 3, "steps": 2, "sampler": "euler", "guidance": 3.0}


@pytest.fixture(scope="module")
def video_dir(random_model_dir, tmp_path_factory):
    """A video model folder grown from the tiny random image model; its temporal layers as they start (zero: what
    the server does with a clip does not depend on them)."""
    return save_video_model(TextToVideo(load_model(random_model_dir)), tmp_path_factory.mktemp("video") / "tiny")


@pytest.fixture(scope="module")
def video(video_dir):
    return load_video_model(video_dir)


@pytest.fixture
def video_client(make_client, video_dir):
    """A server with the tiny video model and no watermark, so the GIF's frames are the model's own."""
    return make_client(video_path=video_dir, watermark=False)


def clip_files(client) -> list[str]:
    folder = client.app.state.studio.settings.gallery_dir / video_api.CLIPS
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def mp4_frames(data: bytes, tmp_path) -> tuple[dict, np.ndarray]:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return meta, np.stack([np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader])


def gif_frames(data: bytes) -> tuple[dict, np.ndarray]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
    return json.loads(image.info["comment"]), np.stack(frames)


def as_gif(frames: np.ndarray) -> np.ndarray:
    """Frames as the GIF stores them: each frame on its own adaptive palette (whatever the frames around it)."""
    return gif_frames(gif_bytes(frames, GenerationRecord(prompt="-"), watermark=False))[1]


def first_frame_decoded(video, picture: Image.Image) -> np.ndarray:
    """What a first frame becomes in the clip: the picture through the VAE, untouched by sampling."""
    with torch.no_grad():
        latents = video.image_model.pixels_to_latents(images_to_pixels([picture]))
    return video.decode(latents[:, None])[0, 0]


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_text_to_video_answers_a_labelled_mp4_and_gif_of_the_models_clip(video_client, video, tmp_path):
    response = video_client.post("/api/video", json={**FAST, "frames": 8, "fps": 12})
    assert response.status_code == 200, response.text
    clip = response.json()
    assert (clip["frames"], clip["fps"], clip["width"], clip["height"], clip["seed"]) == (8, 12, 32, 32, 3)
    assert clip["ai_generated"] is True and clip["first_frame"] is False
    record = clip["record"]
    assert (record["prompt"], record["steps"], record["sampler"], record["cfg_scale"]) == (PROMPT, 2, "euler", 3.0)
    assert record["extra"]["Frames"] == "8" and record["extra"]["FPS"] == "12"
    assert record["extra"]["Image guidance"] == "none" and record["extra"]["Video model"] == "tiny-random"

    mp4 = video_client.get(clip["mp4_url"])
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    meta, frames = mp4_frames(mp4.content, tmp_path)
    assert meta["codec"] == "h264" and meta["fps"] == 12 and meta["size"] == (32, 32) and len(frames) == 8
    assert AI_STATEMENT.encode() in mp4.content and b'"ai_generated": true' in mp4.content
    gif = video_client.get(clip["gif_url"])
    assert gif.headers["content-type"] == "image/gif"
    label, gif_clip = gif_frames(gif.content)
    assert label == clip["label"] and label["ai_generated"] is True and label["record"] == record
    assert len(gif_clip) == 8

    # The GIF holds the model's own clip for this prompt and seed, exactly (on its palettes)
    expected = video.generate([PROMPT], [3], GenerationRequest(prompt=PROMPT, steps=2, sampler="euler", guidance=3.0),
                              VideoSettings(frames=8, fps=12))[0]
    other_seed = video.generate([PROMPT], [4], GenerationRequest(prompt=PROMPT, steps=2, sampler="euler",
                                                                 guidance=3.0), VideoSettings(frames=8))[0]
    assert np.array_equal(gif_clip, as_gif(expected)) and not np.array_equal(gif_clip, as_gif(other_seed))

    assert video_client.get(f"/api/video/{clip['id']}").json() == clip
    download = video_client.get(clip["gif_download_url"])
    assert download.headers["content-disposition"].startswith("attachment") and download.content == gif.content
    job = video_client.get(f"/api/jobs/{clip['job_id']}").json()
    assert (job["kind"], job["status"], job["clip"], job["step"], job["total_steps"]) == \
        ("video", "succeeded", clip["id"], 2, 2)
    assert clip_files(video_client) == sorted(f"{clip['id']}.{kind}" for kind in ("gif", "json", "mp4"))


def test_a_first_frame_sent_is_the_clips_first_frame(video_client, video):
    picture = Image.fromarray(video.generate([PROMPT], [5], GenerationRequest(prompt=PROMPT, steps=2))[0, 3])
    clip = video_client.post("/api/video", json={**FAST, "first_frame": png_base64(picture)}).json()
    assert clip["first_frame"] is True
    assert clip["record"]["extra"]["First frame"] == "given" and clip["record"]["extra"]["Image guidance"] == "1.5"
    _, frames = gif_frames(video_client.get(clip["gif_url"]).content)
    plain = video_client.post("/api/video", json=FAST).json()
    _, plain_frames = gif_frames(video_client.get(plain["gif_url"]).content)
    expected = as_gif(np.stack([first_frame_decoded(video, picture)] * 2))[0]
    assert np.array_equal(frames[0], expected) and rms(plain_frames[0], expected) > 20

    # Another size: refused unless resized, then resized to the model's size by Lanczos
    big = picture.resize((48, 48), Image.Resampling.NEAREST)
    refused = video_client.post("/api/video", json={**FAST, "first_frame": png_base64(big)})
    assert refused.status_code == 400 and refused.json()["param"] == "first_frame"
    assert "first_frame is 48x48; this video model makes 32x32 clips" in refused.json()["detail"]
    clip = video_client.post("/api/video", json={**FAST, "first_frame": png_base64(big), "resize": True,
                                                 "image_guidance": 2.0}).json()
    assert clip["record"]["extra"]["First frame"] == "resized from 48x48 by Lanczos"
    assert clip["record"]["extra"]["Image guidance"] == "2"
    _, frames = gif_frames(video_client.get(clip["gif_url"]).content)
    resized = first_frame_decoded(video, big.resize((32, 32), Image.Resampling.LANCZOS))
    assert np.array_equal(frames[0], as_gif(np.stack([resized] * 2))[0])


def test_any_prompt_lets_a_prompt_the_world_does_not_know_through(video_client):
    refused = video_client.post("/api/video", json={**FAST, "prompt": "a cat on a sofa"})
    assert refused.status_code == 400 and refused.json()["param"] == "prompt"
    assert "any_prompt" in refused.json()["detail"]
    made = video_client.post("/api/video", json={**FAST, "prompt": "a cat on a sofa", "any_prompt": True})
    assert made.status_code == 200 and made.json()["record"]["prompt"] == "a cat on a sofa"


SMALL = png_base64(Image.new("RGB", (32, 32), "white"))


@pytest.mark.parametrize("body,status,param,message", [
    ({"prompt": "a red circle moving sideways"}, 400, "prompt", "motion 'moving sideways' is not known"),
    ({"prompt": "three red circles above a blue square"}, 400, "prompt", "or send any_prompt: true"),
    ({"prompt": "   "}, 400, "prompt", "prompt is empty"),
    ({"prompt": "a nude child moving right"}, 400, "prompt", "prompt refused by policy category"),
    ({"prompt": "x" * 5000}, 422, "prompt", "prompt: String should have at most"),
    ({"prompt": 7}, 422, "prompt", "prompt: Input should be a valid string"),
    ({}, 422, "prompt", "prompt: Field required"),
    ({"frames": 7}, 422, "frames", "frames: Input should be greater than or equal to 8"),
    ({"frames": 17}, 422, "frames", "frames: Input should be less than or equal to 16"),
    ({"frames": "8"}, 422, "frames", "frames: Input should be a valid integer"),
    ({"fps": 0}, 422, "fps", "fps: Input should be greater than or equal to 1"),
    ({"fps": 31}, 422, "fps", "fps: Input should be less than or equal to 30"),
    ({"steps": 0}, 400, "steps", "steps must be an integer from 1 to 150"),
    ({"steps": 1000}, 400, "steps", "steps must be an integer from 1 to 150 on this server"),
    ({"guidance": 60.0}, 422, "guidance", "guidance: Input should be less than or equal to 50"),
    ({"seed": -5}, 400, "seed", "seed must be an integer from 0"),
    ({"sampler": "magic"}, 400, "sampler", "unknown sampler 'magic'"),
    ({"colour": "red"}, 422, "colour", "colour: Extra inputs are not permitted"),
    ({"image_guidance": 2.0}, 400, "image_guidance", "image_guidance applies to a first_frame, which is not given"),
    ({"resize": True}, 400, "resize", "resize applies to a first_frame, which is not given"),
    ({"first_frame": SMALL, "image_guidance": 25.0}, 422, "image_guidance", "less than or equal to 20"),
    ({"first_frame": png_base64(Image.new("RGB", (40, 32)))}, 400, "first_frame", "first_frame is 40x32"),
    ({"first_frame": "%%%"}, 400, "first_frame", "first_frame is not valid base64"),
    ({"first_frame": 12}, 422, "first_frame", "first_frame: Input should be a valid string"),
    ({"first_frame": "https://example.com/cat.png"}, 400, "first_frame", "never fetched"),
    ({"first_frame": "/etc/passwd"}, 400, "first_frame", "looks like a file path"),
    ({"first_frame": base64.b64encode(b"just text").decode()}, 400, "first_frame", "not an image"),
    ({"first_frame": bomb_png(), "resize": True}, 400, "first_frame", "decompression-bomb guard"),
])
def test_every_bad_field_is_a_4xx_naming_it_and_nothing_is_queued(video_client, body, status, param, message):
    response = video_client.post("/api/video", json={**FAST, **body} if body else {})
    assert response.status_code == status, response.text
    assert response.json()["param"] == param and message in response.json()["detail"], response.json()
    assert video_client.get("/api/jobs").json()["jobs"] == []
    assert clip_files(video_client) == []


def test_frames_past_the_models_own_limit_are_refused(make_client, random_model_dir, tmp_path):
    client = make_client()
    short = TextToVideo(load_model(random_model_dir), TemporalConfig(max_frames=12))
    client.app.state.studio.video = ServedVideo(short, ClipStore(tmp_path / "clips"))
    assert client.get("/api/video").json()["max_frames"] == 12
    response = client.post("/api/video", json={**FAST, "frames": 13})
    assert response.status_code == 400 and response.json()["param"] == "frames"
    assert "frames: 13 is more than this video model makes; accepted: 8 to 12" in response.json()["detail"]
    assert client.post("/api/video", json={**FAST, "frames": 12}).json()["frames"] == 12


def test_a_server_without_a_video_model_says_so(client):
    info = client.get("/api/video").json()
    assert info["available"] is False and "pixeldrift serve --video FOLDER" in info["detail"]
    for response in (client.post("/api/video", json=FAST), client.post("/api/video", json={"frames": 99}),
                     client.get(f"/api/video/{'a' * 32}"), client.get(f"/api/video/{'a' * 32}/clip.mp4")):
        assert response.status_code == 503 and response.json()["error"] == "no_video_model"
        assert "this server has no video model" in response.json()["detail"]
    assert client.post("/api/jobs", json={"prompt": "a red circle", "steps": 2}).status_code == 202  # images go on


def test_unknown_clips_and_files_are_404s(video_client):
    for path in (f"/api/video/{'a' * 32}", f"/api/video/{'a' * 32}/clip.gif", "/api/video/..%2F..%2Fgallery.sqlite3",
                 "/api/video/notanid/clip.mp4"):
        assert video_client.get(path).status_code == 404, path
    clip = video_client.post("/api/video", json=FAST).json()
    assert video_client.get(f"/api/video/{clip['id']}/clip.json").status_code == 422   # only mp4 and gif


def test_the_body_limit_is_the_upload_limit(make_client, video_dir):
    # a text-sized limit would refuse a first frame; the upload limit takes it, and refuses a body past it
    client = make_client(video_path=video_dir, max_text_body_bytes=500, max_body_bytes=20_000,
                         max_body_bytes_in_flight=20_000)
    noise = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    frame = png_base64(Image.fromarray(noise))
    assert 500 < len(frame) < 20_000
    assert client.post("/api/video", json={**FAST, "first_frame": frame}).status_code == 200
    big = png_base64(Image.fromarray(np.random.default_rng(1).integers(0, 255, (96, 96, 3), dtype=np.uint8)))
    refused = client.post("/api/video", json={**FAST, "first_frame": big, "resize": True})
    assert refused.status_code == 413 and "request body larger than 20000 bytes" in refused.json()["detail"]
    assert len(client.get("/api/jobs").json()["jobs"]) == 1


def test_a_clip_waits_for_the_image_job_on_the_worker_and_can_be_cancelled(make_client, default_model, video_dir):
    model = GatedModel(default_model)
    client = make_client(model, video_path=video_dir, watermark=False)
    made, _ = queued_behind_an_image_job(client, model, "/api/video", FAST, "video")
    assert clip_files(client) == sorted(f"{made['id']}.{kind}" for kind in ("gif", "json", "mp4"))


def test_a_clip_that_fails_leaves_no_files_and_the_worker_goes_on(video_client, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("the GIF encoder broke")
    monkeypatch.setattr(video_api, "gif_bytes", broken)
    response = video_client.post("/api/video", json=FAST)
    assert response.status_code == 500 and "the GIF encoder broke" in response.json()["detail"]
    assert clip_files(video_client) == []
    monkeypatch.undo()
    assert video_client.post("/api/video", json=FAST).status_code == 200


def test_the_clip_store_writes_all_or_nothing_and_sweeps_what_a_crash_left(tmp_path, monkeypatch):
    store = ClipStore(tmp_path / "clips")
    store.add("a" * 32, b"mp4", b"gif", {"id": "a" * 32})
    real = video_api.write_bytes_atomically

    def fails_on_json(path, data):
        if path.suffix == ".json":
            raise OSError("disk full")
        return real(path, data)
    monkeypatch.setattr(video_api, "write_bytes_atomically", fails_on_json)
    with pytest.raises(OSError, match="disk full"):
        store.add("b" * 32, b"mp4", b"gif", {"id": "b" * 32})
    assert sorted(p.name for p in store.folder.iterdir()) == [f"{'a' * 32}.{kind}" for kind in ("gif", "json", "mp4")]
    assert store.get("b" * 32) is None and store.get("a" * 32) == {"id": "a" * 32} and store.get("../x") is None
    # what a kill -9 could leave: a temporary file, the media of a clip whose answer was never written
    for name in (f".{'c' * 32}.mp4.x1.tmp", f"{'c' * 32}.mp4", f"{'c' * 32}.gif"):
        (store.folder / name).write_bytes(b"half")
    assert sorted(p.name for p in ClipStore(store.folder).folder.iterdir()) == \
        [f"{'a' * 32}.{kind}" for kind in ("gif", "json", "mp4")]


def test_serve_picks_the_video_folder(monkeypatch, tmp_path, video_dir):
    from pixeldrift.cli import serve as serve_module
    from pixeldrift.cli.main import cli
    import pixeldrift.server.app as app_module
    import uvicorn

    seen = []
    monkeypatch.setattr(app_module, "create_app", lambda settings: seen.append(settings.video_path))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    gallery = ["--gallery", str(tmp_path / "g")]

    def serve(*args):
        return CliRunner().invoke(cli, ["serve", *gallery, *args])
    monkeypatch.setattr(serve_module, "DEFAULT_VIDEO_MODEL", tmp_path / "no-such-folder")
    assert serve().exit_code == 0 and seen[-1] is None                     # no models/video: no video
    assert serve("--video", str(video_dir)).exit_code == 0 and seen[-1] == video_dir
    monkeypatch.setattr(serve_module, "DEFAULT_VIDEO_MODEL", video_dir)
    result = serve()
    assert result.exit_code == 0 and seen[-1] == video_dir and f"video: {video_dir}" in result.output
    assert serve("--no-video").exit_code == 0 and seen[-1] is None
    both = serve("--video", str(video_dir), "--no-video")
    assert both.exit_code != 0 and "--video and --no-video contradict each other" in both.output
    assert len(seen) == 4


def test_serve_names_a_video_folder_that_is_no_video_model(tmp_path, random_model_dir):
    from pixeldrift.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--model", str(random_model_dir), "--video", str(random_model_dir),
                                      "--gallery", str(tmp_path / "g")])
    assert result.exit_code != 0 and "pixeldrift-video/1" in result.output


@pytest.fixture
def planning_client(make_client, acting_video_dir, acting_controlnet_dir):
    """A server that plans: a video model grown from the tiny image model, and a layout ControlNet of that model."""
    return make_client(video_path=acting_video_dir, video_plan_control_path=acting_controlnet_dir, watermark=False)


@pytest.fixture(scope="module")
def moved_video_dir(acting_video_dir, tmp_path_factory):
    """The acting video model with its spatial layers moved: no longer the ControlNet's base."""
    video = load_video_model(acting_video_dir)
    with torch.no_grad():
        video.denoiser.net.spatial.conv_in.weight.add_(0.01)
    return save_video_model(video, tmp_path_factory.mktemp("video") / "moved")


def test_get_says_whether_the_server_plans(planning_client, video_client):
    assert planning_client.get("/api/video").json()["plan"] == {"available": True, "control": "cn", "strength": 2.0}
    plan = video_client.get("/api/video").json()["plan"]
    assert plan["available"] is False and "--video-plan-control FOLDER" in plan["detail"]


def test_a_planned_clip_is_the_models_clip_of_the_plan_drawn_by_the_controlnet(planning_client, acting_video_dir,
                                                                               acting_controlnet_dir):
    response = planning_client.post("/api/video", json={**FAST, "plan": True})
    assert response.status_code == 200, response.text
    clip, plan = response.json(), plan_clip(PROMPT, 3, 8, 32)
    assert clip["plan"] == plan.caption != PROMPT and clip["record"]["prompt"] == PROMPT
    assert clip["record"]["extra"]["Plan"] == plan.caption
    assert clip["record"]["extra"]["Plan control"] == "cn, strength 2"
    _, frames = gif_frames(planning_client.get(clip["gif_url"]).content)

    # the model told the plan's caption, every frame steered by its layout map, exactly as `pixeldrift video --plan`
    video = load_video_model(acting_video_dir)
    control = ClipControl(load_controlnet(acting_controlnet_dir), plan.maps[None], 2.0)
    request = GenerationRequest(prompt=PROMPT, steps=2, sampler="euler", guidance=3.0)
    expected = video.generate([plan.caption], [3], request, video.defaults, controls=[control])[0]
    assert np.array_equal(frames, as_gif(expected))
    plain = planning_client.post("/api/video", json=FAST).json()
    assert plain["plan"] is None and "Plan" not in plain["record"]["extra"]
    assert not np.array_equal(frames, gif_frames(planning_client.get(plain["gif_url"]).content)[1])

    # a random seed is planned from, and reported back; the strength is the body's
    weak = planning_client.post("/api/video", json={**FAST, "seed": -1, "plan": True, "plan_strength": 0.5}).json()
    assert weak["plan"] == plan_clip(PROMPT, weak["seed"], 8, 32).caption
    assert weak["record"]["extra"]["Plan control"] == "cn, strength 0.5"


@pytest.mark.parametrize("body,status,param,message", [
    ({"plan": True, "first_frame": SMALL}, 400, "plan", "plan lays out every frame, the first too; it does not take "
                                                        "a first_frame"),
    ({"plan": True, "any_prompt": True}, 400, "plan", "plan reads the prompt as a world clip; it does not take "
                                                      "any_prompt"),
    ({"plan": True, "prompt": "a cat on a sofa", "any_prompt": True}, 400, "plan", "does not take any_prompt"),
    ({"plan_strength": 1.0}, 400, "plan_strength", "plan_strength applies to plan, which is not asked for"),
    ({"plan": False, "plan_strength": 1.0}, 400, "plan_strength", "plan_strength applies to plan"),
    ({"plan": True, "plan_strength": 6.0}, 422, "plan_strength", "plan_strength: Input should be less than or equal "
                                                                 "to 5"),
    ({"plan": True, "plan_strength": -1.0}, 422, "plan_strength", "greater than or equal to 0"),
    ({"plan": "yes"}, 422, "plan", "plan: Input should be a valid boolean"),
    ({"plan": True, "prompt": "a red circle moving sideways"}, 400, "prompt", "motion 'moving sideways' is not known"),
])
def test_every_bad_plan_field_is_a_4xx_naming_it(planning_client, body, status, param, message):
    response = planning_client.post("/api/video", json={**FAST, **body})
    assert response.status_code == status, response.text
    assert response.json()["param"] == param and message in response.json()["detail"], response.json()
    assert planning_client.get("/api/jobs").json()["jobs"] == [] and clip_files(planning_client) == []


def test_a_plan_on_a_server_without_a_plan_controlnet_says_why(video_client):
    response = video_client.post("/api/video", json={**FAST, "plan": True})
    assert response.status_code == 400 and response.json()["param"] == "plan"
    assert "plan: this server has no layout ControlNet for plans" in response.json()["detail"]
    assert video_client.get("/api/jobs").json()["jobs"] == [] and clip_files(video_client) == []


def test_a_controlnet_of_another_base_leaves_the_server_without_plans(make_client, moved_video_dir,
                                                                       acting_controlnet_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="pixeldrift.server"):
        client = make_client(video_path=moved_video_dir, video_plan_control_path=acting_controlnet_dir)
    plan = client.get("/api/video").json()["plan"]
    assert plan["available"] is False and plan["detail"] in caplog.text
    assert "plans are unavailable on this server" in plan["detail"]
    assert "this video model's spatial layers are another UNet" in plan["detail"]
    refused = client.post("/api/video", json={**FAST, "plan": True})
    assert refused.status_code == 400 and refused.json()["param"] == "plan"
    assert "this video model's spatial layers are another UNet" in refused.json()["detail"]
    assert client.post("/api/video", json=FAST).status_code == 200   # clips without a plan go on


def test_a_plan_controlnet_that_cannot_draw_a_plan_stops_the_start(make_client, random_model_dir, video_dir,
                                                                   tmp_path):
    model = load_model(random_model_dir)
    edges = save_controlnet(new_controlnet(model), tmp_path / "cn-edges", "edges", base_record(model, random_model_dir))
    with pytest.raises(ValueError, match="is a 'edges' ControlNet; a plan draws layout maps"):
        make_client(video_path=video_dir, video_plan_control_path=edges)
    with pytest.raises(ValueError, match="give video_path too"):
        make_client(video_plan_control_path=edges)


def test_serve_picks_the_plan_controlnet(monkeypatch, tmp_path, video_dir, acting_controlnet_dir):
    from pixeldrift.cli import serve as serve_module
    from pixeldrift.cli.main import cli
    import pixeldrift.server.app as app_module
    import uvicorn

    seen = []
    monkeypatch.setattr(app_module, "create_app",
                        lambda settings: seen.append((settings.video_path, settings.video_plan_control_path)))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(serve_module, "DEFAULT_VIDEO_MODEL", tmp_path / "no-such-folder")
    monkeypatch.setattr(serve_module, "DEFAULT_LAYOUT_CONTROLNET", acting_controlnet_dir)
    plan = ["--video-plan-control", str(acting_controlnet_dir)]

    def serve(*args):
        return CliRunner().invoke(cli, ["serve", "--gallery", str(tmp_path / "g"), *args])
    assert serve().exit_code == 0 and seen[-1] == (None, None)     # no video model: no plans either
    result = serve("--video", str(video_dir))                      # models/cn-layout beside a video model
    assert result.exit_code == 0 and seen[-1] == (video_dir, acting_controlnet_dir)
    assert f"plan control: {acting_controlnet_dir}" in result.output
    assert serve("--video", str(video_dir), *plan).exit_code == 0 and seen[-1] == (video_dir, acting_controlnet_dir)
    monkeypatch.setattr(serve_module, "DEFAULT_LAYOUT_CONTROLNET", tmp_path / "no-such-folder")
    assert serve("--video", str(video_dir)).exit_code == 0 and seen[-1] == (video_dir, None)
    alone = serve(*plan)
    assert alone.exit_code != 0 and "a plan ControlNet steers a video model, and none is served" in alone.output
    both = serve("--no-video", *plan)
    assert both.exit_code != 0 and "--video-plan-control and --no-video contradict each other" in both.output
    assert len(seen) == 4
