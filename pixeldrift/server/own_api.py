"""pixeldrift's own JSON API under /api: jobs (submit, poll, stream, cancel) and the gallery.

    POST   /api/jobs                    submit txt2img | img2img | inpaint | grid  -> 202 + the job
                                        (controls: ControlNets, own_controls.py; plan: true, job_plan.py;
                                        augment: true, the prompt rewritten, augment_api.py)
    POST   /api/control/map             the control map a module makes of an image (own_controls.py)
    GET    /api/jobs/{id}               status, step i of n, image ids, error, warnings
    GET    /api/jobs/{id}/events        the same as Server-Sent Events, one per change
    GET    /api/jobs/{id}/preview.png   the live preview of the current denoised estimate (then the first image)
    DELETE /api/jobs/{id}               cancel
    GET    /api/gallery?q=&limit=&offset=   search by prompt, newest first
    GET    /api/gallery/{id}            one image's row: settings, seed, model, time, provenance
    GET    /api/gallery/{id}/image.png  the labelled PNG (?download=1 to save it)
    DELETE /api/gallery/{id}
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift import __version__
from pixeldrift.pipeline.control import MAX_CONTROLS
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES
from pixeldrift.server.a1111_names import display_name
from pixeldrift.server.adapters import adapter_listing
from pixeldrift.server.augment_api import FILL_HELP, Fill, with_augmentation
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import KINDS
from pixeldrift.server.job_plan import with_plan
from pixeldrift.server.job_request import MAX_AXIS_CHARS, Name, Prompt, build_job, check_grid
from pixeldrift.server.own_controls import ControlBody, control_listing, with_own_controls
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_base64_image

router = APIRouter(prefix="/api", tags=["pixeldrift"])
KEEPALIVE_S = 15.0


class JobBody(BaseModel):
    """A generation job; leave a field out for the model's own default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    kind: Literal["txt2img", "img2img", "inpaint", "grid"] = "txt2img"
    prompt: Prompt
    negative_prompt: Prompt = ""
    model: Name | None = None
    sampler: Name | None = Field(None, description="pixeldrift name (dpmpp_2m) or A1111 name (DPM++ 2M)")
    schedule: Name | None = None
    steps: int | None = None
    guidance: float | None = None
    guidance_rescale: float = 0.0
    seed: int | None = Field(None, description="None or -1: a random seed, reported back")
    batch_size: int = 1
    width: int | None = None
    height: int | None = None
    init_image: str | None = Field(None, description="base64 PNG/JPEG/WEBP (img2img, inpaint)")
    mask: str | None = Field(None, description="base64 image, white = repaint (inpaint)")
    strength: float = 0.75
    mask_blur: int = 4
    resample: int = 1
    variation_seed: int | None = None
    variation_strength: float = 0.0
    x_axis: str | None = Field(None, max_length=MAX_AXIS_CHARS, description='grid axis, e.g. "steps=5,10,20"')
    y_axis: str | None = Field(None, max_length=MAX_AXIS_CHARS)
    z_axis: str | None = Field(None, max_length=MAX_AXIS_CHARS)
    controls: list[ControlBody] = Field([], max_length=MAX_CONTROLS, description="ControlNets (own_controls.py)")
    plan: bool = Field(False, description="plan, then draw: lay the prompt's scene out and draw it with the "
                                          "served layout ControlNet(s) for the model (job_plan.py)")
    augment: bool = Field(False, description="rewrite the challenge-world prompt into the training captions' long "
                                             "form and draw that (augment_api.py); the rewrite is reported and stored")
    augment_fill: Fill = Field("explicit", description=f"with augment: {FILL_HELP}")


@router.get("/info")
def info(studio: Studio = Depends(get_studio)) -> dict:
    """What this server offers: models, samplers, schedules, limits, queue state."""
    s = studio.settings
    models = [{"name": e.name, "default": e.name == studio.catalog.default_name,
               "width": e.model.limits.default_width, "height": e.model.limits.default_height,
               "size_multiple": e.model.limits.size_multiple,
               "max_side": min(e.model.limits.max_side, s.max_side),
               "sampling": e.model.sampling_defaults.to_dict()} for e in studio.catalog.entries.values()]
    return {"version": __version__, "models": models, "kinds": list(KINDS),
            "samplers": [{"name": n, "display_name": display_name(n)} for n in SAMPLERS],
            "schedules": list(SIGMA_SCHEDULES),
            "limits": {"max_side": s.max_side, "max_steps": s.max_steps, "max_images": s.max_images,
                       "max_upload_bytes": s.max_upload_bytes, "max_upload_pixels": s.max_upload_pixels},
            "queue": studio.queue.counts(), "token_required": bool(s.token), "watermark": s.watermark,
            **control_listing(studio), **adapter_listing(studio)}


@router.post("/jobs", status_code=202)
def submit_job(body: JobBody, response: Response, studio: Studio = Depends(get_studio)) -> dict:
    s = studio.settings
    studio.check_room()
    fields = body.model_dump(exclude={"kind", "model", "sampler", "schedule", "seed", "x_axis", "y_axis",
                                      "z_axis", "init_image", "mask", "controls", "plan", "augment",
                                      "augment_fill"})
    for name in ("init_image", "mask"):
        text = getattr(body, name)
        fields[name] = None if text is None else decode_base64_image(text, name, s.max_upload_bytes,
                                                                       s.max_upload_pixels)
    axes = (body.x_axis, body.y_axis, body.z_axis)
    if body.kind != "grid" and any(axes):
        raise ApiError(400, 'grid axes are only for a grid job (kind: "grid")', "x_axis")
    job = build_job(s, studio.catalog, kind=body.kind, model=body.model, sampler=body.sampler,
                    schedule=body.schedule, seed=body.seed, grid_axes=axes, source="api", **fields)
    if body.augment:  # before the adapters and the plan, as generate --augment: they read the rewrite
        with_augmentation(job, body.augment_fill)
    elif "augment_fill" in body.model_fields_set:
        raise ApiError(400, "augment_fill applies with augment: true, which is not given", "augment_fill")
    studio.adapters.for_job(job, studio.catalog)
    with_own_controls(job, body.controls, studio, fields["init_image"])
    if body.plan:
        with_plan(job, studio)
    if body.kind == "grid":
        check_grid(s, studio.catalog, job)
    studio.submit(job)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return studio.job_view(job.id)


@router.get("/jobs")
def recent_jobs(studio: Studio = Depends(get_studio)) -> dict:
    """The jobs this server run has seen (running, waiting and recently finished), newest first."""
    return {"jobs": [j.progress() for j in studio.queue.recent()], "queue": studio.queue.counts()}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, studio: Studio = Depends(get_studio)) -> dict:
    return studio.job_view(job_id)


@router.delete("/jobs/{job_id}")
def cancel_job(job_id: str, studio: Studio = Depends(get_studio)) -> dict:
    job = studio.job(job_id)
    if not job.is_finished:
        studio.queue.cancel(job)
    return studio.job_view(job_id)


@router.get("/jobs/{job_id}/preview.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def job_preview(job_id: str, studio: Studio = Depends(get_studio)) -> Response:
    """The live preview; once the job has made an image, that image (a page may ask a moment late)."""
    job = studio.job(job_id)
    preview, images = job.preview_png, list(job.image_ids)
    if preview is None and images:
        try:
            preview = studio.gallery.path_of(images[0]).read_bytes()
        except FileNotFoundError:  # deleted from the gallery meanwhile
            pass
    if preview is None:
        raise ApiError(404, "no preview yet: the job has not reached its first step")
    return Response(preview, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(job_id: str, request: Request, studio: Studio = Depends(get_studio)) -> StreamingResponse:
    """Server-Sent Events: `progress` on every change, then one `done` with the final state."""
    job = studio.queue.get(job_id)
    view = None if job is not None else studio.job_view(job_id)  # 404 for unknown jobs

    async def stream():
        if job is None:
            yield _event("done", view)
            return
        seen = -1
        while True:
            version = await job.wait_for_change(seen, KEEPALIVE_S)
            if await request.is_disconnected():
                return
            if version == seen:
                yield ": keep-alive\n\n"
                continue
            seen = version
            if job.is_finished:
                yield _event("done", job.progress())
                return
            yield _event("progress", job.progress())

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


@router.get("/gallery")
def search_gallery(q: str = Query("", max_length=500, description="words that must all be in the prompt"),
                   limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
                   studio: Studio = Depends(get_studio)) -> dict:
    rows, total = studio.gallery.search(q, limit, offset)
    return {"images": [with_urls(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/gallery/{image_id}")
def gallery_image(image_id: str, studio: Studio = Depends(get_studio)) -> dict:
    return with_urls(studio.image_row(image_id))


@router.get("/gallery/{image_id}/image.png", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}})
def gallery_file(image_id: str, download: bool = False, studio: Studio = Depends(get_studio)) -> FileResponse:
    studio.image_row(image_id)  # 404 unless the id is a gallery row; the path is built from the id alone
    path = studio.gallery.path_of(image_id)
    if not path.is_file():
        raise ApiError(404, f"image {image_id!r} has been deleted")
    name = f"pixeldrift-{image_id[:12]}.png"
    return FileResponse(path, media_type="image/png", filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.delete("/gallery/{image_id}")
def delete_image(image_id: str, studio: Studio = Depends(get_studio)) -> dict:
    studio.image_row(image_id)
    studio.gallery.delete(image_id)
    return {"deleted": image_id}


def with_urls(row: dict) -> dict:
    return {**row, "url": f"/api/gallery/{row['id']}/image.png",
            "download_url": f"/api/gallery/{row['id']}/image.png?download=1"}
