"""The video model over HTTP: a short clip from a motion prompt, optionally animating a first frame.

    GET  /api/video                     the served video model (size, frame limits, defaults, whether it plans),
                                        or that there is none
    POST /api/video                     {prompt, seed, frames, fps, steps, guidance, image_guidance, first_frame,
                                        resize, any_prompt, plan, ...} -> the clip: its MP4 and GIF URLs, record
                                        and label
    GET  /api/video/{id}                the same answer again
    GET  /api/video/{id}/clip.mp4       the labelled MP4 (H.264); clip.gif the labelled GIF (?download=1 to save)

A clip is one more job in the device's queue (its progress at /api/jobs/{id}), run by the one worker, so
it never runs beside an image job. Every field is checked before the job is queued, a bad one a 4xx
naming it. A clip's files are written to GALLERY/clips/ once both are made, the MP4 and the GIF first,
then ID.json, which makes the clip exist: a clip cut short leaves nothing (start-up removes leftovers).

Plan, then animate (pipeline/video_plan.py, as `pixeldrift video --plan`): with plan: true the prompt is read
as a world clip, what it leaves open and every frame's layout are decided from the seed, and the server's
layout ControlNet draws each frame's layout while the model, told the decided clip's caption, denoises
the frames. Plans need a layout ControlNet trained on the image model the video model's spatial layers
are; the server starts without plans, and says why, when its ControlNet is not.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.pipeline.plan import PLAN_STRENGTH
from pixeldrift.pipeline.video_files import MAX_FPS, MIN_FPS, gif_bytes, mp4_bytes
from pixeldrift.pipeline.video_model import VideoSettings
from pixeldrift.pipeline.video_plan import ClipControl, ClipPlan, plan_clip
from pixeldrift.server.errors import ApiError
from pixeldrift.server.gallery import ID_PATTERN
from pixeldrift.server.job import Job, JobCancelled
from pixeldrift.server.job_request import Name, Prompt, build_job
from pixeldrift.server.job_runner import JobRunner
from pixeldrift.server.model_catalog import ModelCatalog
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_base64_image
from pixeldrift.world.motion import MAX_FRAMES, MIN_FRAMES, parse_clip
from pixeldrift.world.parse import PromptError

router = APIRouter(prefix="/api/video", tags=["video"])
LOG = logging.getLogger("pixeldrift.server")
CLIPS = "clips"   # the clips' folder in the gallery folder
NO_VIDEO = ("this server has no video model: start it with `pixeldrift serve --video FOLDER` (a folder "
            "`pixeldrift train video` wrote; models/video is served by default when it exists)")
NO_PLAN_CONTROL = ("this server has no layout ControlNet for plans: start it with `pixeldrift serve "
                   "--video-plan-control FOLDER` (models/cn-layout is used by default when it exists)")
MEDIA_TYPES = {"mp4": "video/mp4", "gif": "image/gif"}


class ClipStore:
    """GALLERY/clips/: ID.mp4 and ID.gif, then ID.json (the clip's answer), the file that makes a clip exist."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.iterdir():   # left by a crash: temporary files, the files of an unfinished clip
            if path.suffix == ".tmp" or path.suffix[1:] in MEDIA_TYPES and not path.with_suffix(".json").exists():
                path.unlink(missing_ok=True)

    def path(self, clip_id: str, kind: str) -> Path:
        if not ID_PATTERN.fullmatch(clip_id) or kind not in (*MEDIA_TYPES, "json"):
            raise ValueError(f"{clip_id!r}.{kind} is not a clip's file")
        return self.folder / f"{clip_id}.{kind}"

    def add(self, clip_id: str, mp4: bytes, gif: bytes, answer: dict) -> None:
        try:
            for kind, data in (("mp4", mp4), ("gif", gif), ("json", json.dumps(answer).encode("utf-8"))):
                write_bytes_atomically(self.path(clip_id, kind), data)
        except BaseException:
            for kind in (*MEDIA_TYPES, "json"):
                self.path(clip_id, kind).unlink(missing_ok=True)
            raise

    def get(self, clip_id: str) -> dict | None:
        if not ID_PATTERN.fullmatch(clip_id):
            return None
        try:
            return json.loads(self.path(clip_id, "json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None


@dataclass
class ServedVideo:
    """The server's video model (a TextToVideo, loaded once), the clips it made, and the layout ControlNet that
    draws a planned clip's frames (a ControlModel; None, and `no_plan_reason` says why, when plans are unavailable)."""

    model: object
    clips: ClipStore
    plan_control: object | None = None
    no_plan_reason: str = NO_PLAN_CONTROL

    def __post_init__(self) -> None:
        self.catalog = ModelCatalog.of(self.model.image_model)   # its image model: build_job's checks

    @classmethod
    def load(cls, folder: str | Path, device: str, gallery_dir: str | Path,
             plan_control: str | Path | None = None) -> "ServedVideo":
        """The video model of `folder`, and the layout ControlNet of `plan_control` for plans when it fits it."""
        from pixeldrift.pipeline.video_folder import load_video_model

        model = load_video_model(folder, device=device)
        return cls(model, ClipStore(Path(gallery_dir) / CLIPS), *load_plan_control(plan_control, model, device))

    @property
    def max_frames(self) -> int:
        return min(MAX_FRAMES, self.model.temporal.max_frames)

    def describe(self) -> dict:
        model = self.model
        return {"available": True, "model": model.name, "width": model.size, "height": model.size,
                "min_frames": MIN_FRAMES, "max_frames": self.max_frames, "min_fps": MIN_FPS, "max_fps": MAX_FPS,
                "defaults": asdict(model.defaults), "sampling": model.image_model.sampling_defaults.to_dict(),
                "plan": self.describe_plans()}

    def describe_plans(self) -> dict:
        if self.plan_control is None:
            return {"available": False, "detail": self.no_plan_reason}
        return {"available": True, "control": self.plan_control.name, "strength": PLAN_STRENGTH}


def load_plan_control(folder: str | Path | None, model, device: str) -> tuple[object | None, str]:
    """The layout ControlNet of `folder` and "", or None and why plans are unavailable. A folder that is no layout
    ControlNet is refused (ValueError): it was named by mistake. One trained on another UNet than the video
    model's spatial layers is only logged: the server serves clips without plans rather than not at all."""
    if folder is None:
        return None, NO_PLAN_CONTROL
    from pixeldrift.pipeline.controlnet_folder import load_controlnet

    control = load_controlnet(folder, device)
    if control.kind != "layout":
        raise ValueError(f"the plan ControlNet {folder} is a {control.kind!r} ControlNet; a plan draws layout maps, "
                         "so it needs a 'layout' one (pixeldrift train controlnet --control layout)")
    try:
        control.check_spatial_base(model)
    except ValueError as error:
        reason = f"plans are unavailable on this server: {error}"
        LOG.warning(reason)
        return None, reason
    return control, ""


@dataclass
class ClipJob(Job):
    """A clip in the job queue: its request (prompt, seed, sampler, steps, text guidance) checked as an image
    job's is, and what a clip adds; `clip_id` once its files are written."""

    served: ServedVideo | None = None
    settings: VideoSettings = VideoSettings()
    first_frame: Image.Image | None = None
    first_frame_note: str | None = None   # how the first frame came: as sent, or resized from its size
    plan: ClipPlan | None = None          # a planned clip's decided caption and every frame's layout map
    plan_strength: float = PLAN_STRENGTH
    clip_id: str | None = None

    def progress(self) -> dict:
        return {**super().progress(), "clip": self.clip_id}


class ClipRunner(JobRunner):
    """The worker's runner: image jobs as JobRunner runs them, and clips, one at a time on the one worker."""

    def work(self, job: Job) -> None:
        if isinstance(job, ClipJob):
            make_clip(job, self.settings.watermark)
        else:
            super().work(job)


def make_clip(job: ClipJob, watermark: bool) -> None:
    """Generate the clip with progress and cancel, encode both files in memory, then store them."""
    served, r, settings = job.served, job.request, job.settings
    model = served.model

    def step(i, x, denoised) -> None:
        if job.cancel_requested:
            raise JobCancelled()
        job.update(step=i + 1)
    first = None if job.first_frame is None else [job.first_frame]
    told, controls, plan_extra = planned(job)
    frames = model.generate([told], [r.seed], r, settings, first, callback=step, controls=controls)[0]
    record = model.image_model.record(r, r.seed, job.model_name)
    extra = {"Video model": model.name, "Image guidance": f"{settings.image_guidance:g}" if first else "none",
             **plan_extra}
    if job.first_frame_note:
        extra["First frame"] = job.first_frame_note
    record = replace(record, extra={**record.extra, **extra})
    mp4 = mp4_bytes(frames, record, settings.fps, watermark=watermark)
    gif = gif_bytes(frames, record, settings.fps, watermark=watermark)
    label = json.loads(Image.open(io.BytesIO(gif)).info["comment"])   # the label both files carry
    clip_id = uuid.uuid4().hex
    url = f"/api/video/{clip_id}/clip"
    served.clips.add(clip_id, mp4, gif, {
        "id": clip_id, "job_id": job.id, "created": time.time(), "prompt": r.prompt, "seed": r.seed,
        "model": job.model_name, "frames": settings.frames, "fps": settings.fps, "width": model.size,
        "height": model.size, "first_frame": first is not None, "plan": None if job.plan is None else job.plan.caption,
        "mp4_url": f"{url}.mp4", "gif_url": f"{url}.gif",
        "mp4_download_url": f"{url}.mp4?download=1", "gif_download_url": f"{url}.gif?download=1",
        "ai_generated": label["ai_generated"], "record": label["record"], "label": label})
    job.update(clip_id=clip_id)


def planned(job: ClipJob) -> tuple[str, list[ClipControl] | None, dict]:
    """What the model is told, the controls steering it, and the record's extra: for a planned clip the decided
    caption (it names what the map shows and the prompt left open, so the frames keep one colour) and the layout
    ControlNet drawing every frame's map, as `pixeldrift video --plan` records them; else the prompt alone."""
    if job.plan is None:
        return job.request.prompt, None, {}
    control = ClipControl(job.served.plan_control, job.plan.maps[None], job.plan_strength)   # maps (1, F, H, W, 3)
    return job.plan.caption, [control], {"Plan": job.plan.caption,
                                         "Plan control": f"{control.model.name}, strength {job.plan_strength:g}"}


class ClipBody(BaseModel):
    """A clip; leave a field out for the video model's own default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: Prompt = Field(description="a motion the world knows: 'a red circle moving right', 'two blue squares "
                                       "falling', 'a clock going from 3:00 to 3:30', 'a sign spelling out HELLO'")
    negative_prompt: Prompt = ""
    any_prompt: bool = Field(False, description="skip the check that the prompt is such a motion")
    seed: int | None = Field(None, description="None or -1: a random seed, reported back")
    frames: int | None = Field(None, ge=MIN_FRAMES, le=MAX_FRAMES, description="also at most the model's limit")
    fps: int | None = Field(None, ge=MIN_FPS, le=MAX_FPS)
    sampler: Name | None = None
    steps: int | None = None
    guidance: float | None = Field(None, ge=0, le=50, description="guidance on the text")
    image_guidance: float | None = Field(None, ge=0, le=20, description="guidance on the first frame")
    first_frame: str | None = Field(None, description="base64 PNG/JPEG/WEBP: the clip animates this picture")
    resize: bool = Field(False, description="resize a first frame of another size to the model's (else refused)")
    plan: bool = Field(False, description="plan, then animate: lay out every frame from the prompt and seed and draw "
                                          "the layouts with the server's layout ControlNet (GET /api/video's plan); "
                                          "not with first_frame or any_prompt")
    plan_strength: float | None = Field(None, ge=0, le=5, description=f"the layout ControlNet's strength, with plan "
                                                                      f"[{PLAN_STRENGTH:g}]")


def served_video(studio: Studio = Depends(get_studio)) -> ServedVideo:
    if studio.video is None:
        raise ApiError(503, NO_VIDEO, code="no_video_model")
    return studio.video


def clip_job(body: ClipBody, studio: Studio, served: ServedVideo) -> ClipJob:
    """The checked job; every bad field an ApiError naming it, the first frame decoded last."""
    s, model = studio.settings, served.model
    if not body.prompt.strip():
        raise ApiError(400, "prompt is empty: say what moves and how, e.g. 'a red circle moving right'", "prompt")
    checked = build_job(s, served.catalog, kind="txt2img", sampler=body.sampler, seed=body.seed, prompt=body.prompt,
                        negative_prompt=body.negative_prompt, steps=body.steps, guidance=body.guidance,
                        width=model.size, height=model.size)
    if not body.any_prompt:
        try:
            parse_clip(body.prompt)
        except PromptError as error:
            raise ApiError(400, f"prompt: {error} (or send any_prompt: true)", "prompt") from None
    if body.frames is not None and body.frames > served.max_frames:
        raise ApiError(400, f"frames: {body.frames} is more than this video model makes; accepted: {MIN_FRAMES} "
                            f"to {served.max_frames}", "frames")
    for name in ("image_guidance", "resize"):
        if getattr(body, name) and body.first_frame is None:
            raise ApiError(400, f"{name} applies to a first_frame, which is not given", name)
    settings = replace(model.defaults, **{name: getattr(body, name) for name in ("frames", "fps", "image_guidance")
                                          if getattr(body, name) is not None})
    plan = clip_plan(body, served, checked.request.seed, settings.frames)
    picture, note = None, None
    if body.first_frame is not None:
        picture = decode_base64_image(body.first_frame, "first_frame", s.max_upload_bytes, s.max_upload_pixels)
        picture, note = picture.convert("RGB"), "given"
        if picture.size != (model.size, model.size):
            if not body.resize:
                raise ApiError(400, f"first_frame is {picture.width}x{picture.height}; this video model makes "
                                    f"{model.size}x{model.size} clips (send resize: true to resize it)", "first_frame")
            note = f"resized from {picture.width}x{picture.height} by Lanczos"
            picture = picture.resize((model.size, model.size), Image.Resampling.LANCZOS)
    return ClipJob(kind="video", request=checked.request, model_name=checked.model_name, source="api",
                   total_steps=checked.total_steps, served=served, settings=settings, first_frame=picture,
                   first_frame_note=note, plan=plan,
                   plan_strength=PLAN_STRENGTH if body.plan_strength is None else body.plan_strength)


def clip_plan(body: ClipBody, served: ServedVideo, seed: int, frames: int) -> ClipPlan | None:
    """A planned clip's plan, decided from its seed (the one reported back); None unless the body asks for one."""
    if not body.plan:
        if body.plan_strength is not None:
            raise ApiError(400, "plan_strength applies to plan, which is not asked for", "plan_strength")
        return None
    if body.first_frame is not None:
        raise ApiError(400, "plan lays out every frame, the first too; it does not take a first_frame", "plan")
    if body.any_prompt:
        raise ApiError(400, "plan reads the prompt as a world clip; it does not take any_prompt", "plan")
    if served.plan_control is None:
        raise ApiError(400, f"plan: {served.no_plan_reason}", "plan")
    return plan_clip(body.prompt, seed, frames, served.model.size)   # clip_job's parse_clip took the prompt already


@router.get("")
def video_info(studio: Studio = Depends(get_studio)) -> dict:
    """The served video model and its limits; {"available": false, "detail": ...} on a server without one."""
    return {"available": False, "detail": NO_VIDEO} if studio.video is None else studio.video.describe()


@router.post("")
async def make_video(body: ClipBody, studio: Studio = Depends(get_studio),
                     served: ServedVideo = Depends(served_video)) -> dict:
    """A clip, made on the job worker; answers once its labelled MP4 and GIF are stored."""
    studio.check_room()
    job = await run_in_threadpool(clip_job, body, studio, served)   # decoding and checks off the event loop
    await studio.run_to_end(job, "the clip was not made", "the clip failed")
    return served.clips.get(job.clip_id)


@router.get("/{clip_id}")
def video_clip(clip_id: str, served: ServedVideo = Depends(served_video)) -> dict:
    return _found(served, clip_id)


@router.get("/{clip_id}/clip.{kind}", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}})
def video_file(clip_id: str, kind: Literal["mp4", "gif"], download: bool = False,
               served: ServedVideo = Depends(served_video)) -> FileResponse:
    _found(served, clip_id)
    name = f"pixeldrift-{clip_id[:12]}.{kind}"
    return FileResponse(served.clips.path(clip_id, kind), media_type=MEDIA_TYPES[kind],
                        filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


def _found(served: ServedVideo, clip_id: str) -> dict:
    answer = served.clips.get(clip_id)
    if answer is None:
        raise ApiError(404, f"no clip {clip_id!r} on this server", "clip_id")
    return answer
