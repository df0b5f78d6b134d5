"""Restoration in the studio, as `pixeldrift restore` restores (applications/inverse_problems.py: DPS, Pi-GDM).

    GET  /api/restore     the tasks, methods, defaults and limits, and the image size each task takes per model
    POST /api/restore     {image, task, method, simulate, mask, noise, prompt, steps, sampler, zeta, seed, model,
                          image_name} -> the restored image's gallery row (its labelled PNG, the restore's settings
                          in its record) and the measurement restored: a labelled PNG, as a data URL

The measurement is the image itself (inpainting: with the mask's white pixels missing), or with `simulate` the
image, clean, degraded by the task with noise and (inpainting) a box drawn from the seed, as `restore --simulate`
degrades it. Every field is checked and the measurement made before the job is queued, a bad field a 4xx naming
it. The restoration is one more job in the device's queue (progress and cancel at /api/jobs/{id}), run by the
one worker, so it never runs beside an image job; its result is saved to the gallery as every image is (kind
"restore"), and the answer waits for it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Literal

import torch
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.applications import inverse_problems as ip
from pixeldrift.pipeline.pixels import pixels_to_images
from pixeldrift.provenance.watermark import WatermarkSpec
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.server.a1111_names import resolve_sampler
from pixeldrift.server.audit_api import AuditRunner
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import Job, JobCancelled
from pixeldrift.server.job_request import Name, Prompt, build_job
from pixeldrift.server.own_api import with_urls
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_base64_image

router = APIRouter(prefix="/api/restore", tags=["restore"])
DEFAULTS = ip.RestoreSettings()   # 50 steps of Euler ancestral, DPS (`pixeldrift restore` takes 200)
MIN_NOISE, MAX_NOISE = 1e-4, 1.0
TASK_HELP = {"sr4": "a quarter of the model's size, restored 4x", "deblur": "a Gaussian blur (sigma 2)",
             "motion": "a 9-pixel line blur at 30 degrees", "inpaint": "the pixels the mask marks white are missing"}


class RestoreBody(BaseModel):
    """One restoration; leave a field out for `pixeldrift restore`'s default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    image: str = Field(description="base64 PNG/JPEG/WEBP (or a data: URL): the degraded image (sr4: a quarter of "
                                   "the model's size), or with simulate the clean one, of the model's size")
    task: Literal[ip.TASKS] = Field(description="; ".join(f"{name}: {text}" for name, text in TASK_HELP.items()))
    method: Literal[ip.METHODS] = Field(DEFAULTS.method, description="dps: diffusion posterior sampling; pigdm: "
                                                                     "pseudoinverse-guided diffusion")
    simulate: bool = Field(False, description="the image is clean: degrade it by the task, then restore that")
    mask: str | None = Field(None, description="inpaint without simulate: base64 image of the image's size, white "
                                               "where pixels are missing")
    noise: float = Field(DEFAULTS.noise_std, ge=MIN_NOISE, le=MAX_NOISE,
                         description="sigma_y, the measurement's noise in pixels of [-1, 1]: simulate adds it; "
                                     "Pi-GDM weighs the residual by it")
    prompt: Prompt = Field("", description="what the image shows (a caption steers the prior)")
    steps: int = DEFAULTS.steps
    sampler: Name = Field(DEFAULTS.sampler, description="pixeldrift name (euler_ancestral) or A1111 name (Euler a)")
    zeta: float | None = Field(None, ge=0, le=ip.MAX_ZETA, description="DPS's step size (3/16) / Pi-GDM's "
                                                                       "guidance weight (1) when left out")
    seed: int | None = Field(None, description="None or -1: a random seed, reported back")
    model: Name | None = None
    image_name: Name = Field("upload", description="what the image is, recorded as 'Restored from'")


@dataclass
class RestoreJob(Job):
    """A restoration in the job queue: its request (prompt, seed, sampler, steps) checked as an image job's is,
    the measurement made from the image and its operator; `answer` once the result is in the gallery."""

    settings: ip.RestoreSettings = DEFAULTS
    measurement: torch.Tensor | None = None
    operator: ip.Operator | None = None
    image_name: str = "upload"
    simulated: bool = False
    answer: dict | None = None


class RestoreRunner(AuditRunner):
    """The worker's runner: image jobs, clips and audits as before, and restorations, one job at a time."""

    def work(self, job: Job) -> None:
        if isinstance(job, RestoreJob):
            self.restore(job)
        else:
            super().work(job)

    def restore(self, job: RestoreJob) -> None:
        """Sample the posterior with progress and cancel; save the result as every image is saved."""
        def step(i, x, denoised) -> None:
            if job.cancel_requested:
                raise JobCancelled()
            job.update(step=i + 1)
        prompt, model = job.request.prompt, self.catalog.resolve(job.model_name).model
        y, operator = job.measurement, job.operator
        job.measurement = job.operator = None   # a finished job stays in memory a while; its tensors need not
        restored = ip.restore(model, y, operator, [prompt], job.settings, callback=step)
        image = pixels_to_images(restored)[0]
        record = ip.restore_record(job.settings, prompt, job.model_name, image.size, job.image_name, job.simulated)
        self._save(job, image, record)
        png = ip.measurement_png(y, record, watermark=self.settings.watermark)
        row = with_urls(self.gallery.get(job.image_ids[-1]))
        job.update(answer={
            "job_id": job.id, "image": row, "record": row["settings"]["record"],
            "ai_generated": row["provenance"]["ai_generated"], "simulated": job.simulated,
            "measurement": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "measurement_width": y.shape[-1], "measurement_height": y.shape[-2]})


def restore_job(body: RestoreBody, studio: Studio) -> RestoreJob:
    """The checked job with its measurement; every bad field an ApiError naming it, the images decoded last."""
    s = studio.settings
    if body.mask is not None and body.simulate:
        raise ApiError(400, "mask: simulate draws the missing box from the seed; send no mask with it", "mask")
    if body.mask is not None and body.task != "inpaint":
        raise ApiError(400, f"mask goes with task inpaint, not {body.task}", "mask")
    if body.mask is None and body.task == "inpaint" and not body.simulate:
        raise ApiError(400, "task inpaint needs a mask (white where pixels are missing), or simulate: true to "
                            "hide a box drawn from the seed", "mask")
    # a request needs a prompt, a restoration none: a stand-in for the checks when none is given
    checked = build_job(s, studio.catalog, kind="txt2img", model=body.model, sampler=body.sampler, seed=body.seed,
                        prompt=body.prompt or "-", steps=body.steps, guidance=DEFAULTS.guidance)
    model = studio.catalog.resolve(checked.model_name).model
    picture = decode_base64_image(body.image, "image", s.max_upload_bytes, s.max_upload_pixels).convert("RGB")
    size = restored_size(model, checked.model_name, body, picture, s)
    missing = None
    if body.mask is not None:
        missing = decode_base64_image(body.mask, "mask", s.max_upload_bytes, s.max_upload_pixels).convert("RGB")
        if missing.size != picture.size:
            raise ApiError(400, f"mask is {missing.width}x{missing.height} but the image is "
                                f"{picture.width}x{picture.height}", "mask")
    r = replace(checked.request, prompt=body.prompt, width=size[0], height=size[1])
    settings = ip.RestoreSettings(task=body.task, method=body.method, steps=r.steps, sampler=r.sampler,
                                  schedule=resolve_sampler(body.sampler)[1], zeta=body.zeta, noise_std=body.noise,
                                  seed=r.seed)
    y, operator = _checked(lambda: ip.image_measurement(model, body.task, picture, missing, body.simulate, r.seed,
                                                        body.noise), "image")
    return RestoreJob(kind="restore", request=r, model_name=checked.model_name, source="api",
                      total_steps=checked.total_steps, settings=settings, measurement=y, operator=operator,
                      image_name=body.image_name, simulated=body.simulate)


def restored_size(model, name: str, body: RestoreBody, picture, s) -> tuple[int, int]:
    """The size the picture restores to: one the model makes, within the server's sides; ApiError on image."""
    if body.simulate:
        size = _checked(lambda: ip.restored_size(model, "deblur", picture.size), "image",
                        f"simulate degrades a clean image of a size {name} makes; got {picture.width}x{picture.height}")
    else:
        size = _checked(lambda: ip.restored_size(model, body.task, picture.size), "image")
    smallest = WatermarkSpec().min_size if s.watermark else 1   # a labelled PNG is watermarked where it can be
    if max(size) > s.max_side or min(size) < smallest:
        at_least = f" and {smallest} at least (the watermark)" if s.watermark else ""
        raise ApiError(400, f"image: it restores to {size[0]}x{size[1]}; this server makes {s.max_side} pixels a "
                            f"side at most{at_least}", "image")
    return size


def _checked(make, param: str, message: str | None = None):
    """make(); its ValueError an ApiError 400 naming `param` (with `message` instead of the error's own)."""
    try:
        return make()
    except ValueError as error:
        raise ApiError(400, f"{param}: {message or error}", param) from None


@router.get("")
def restore_info(studio: Studio = Depends(get_studio)) -> dict:
    """What the panel offers: tasks, methods, samplers, the defaults and limits, each model's sizes."""
    s = studio.settings
    models = [{"name": e.name, "width": e.model.limits.default_width, "height": e.model.limits.default_height,
               "sr4_width": e.model.limits.default_width // ip.SR_FACTOR,
               "sr4_height": e.model.limits.default_height // ip.SR_FACTOR} for e in studio.catalog.entries.values()]
    return {"tasks": [{"name": name, "help": text} for name, text in TASK_HELP.items()], "methods": list(ip.METHODS),
            "samplers": list(SAMPLERS), "models": models, "default_model": studio.catalog.default_name,
            "defaults": {"method": DEFAULTS.method, "sampler": DEFAULTS.sampler, "steps": DEFAULTS.steps,
                         "noise": DEFAULTS.noise_std, "zeta": ip.DEFAULT_ZETA},
            "limits": {"max_steps": s.max_steps, "min_noise": MIN_NOISE, "max_noise": MAX_NOISE,
                       "max_zeta": ip.MAX_ZETA, "max_side": s.max_side}}


@router.post("")
async def restore_image(body: RestoreBody, studio: Studio = Depends(get_studio)) -> dict:
    """The restoration, made on the job worker; answers once its labelled PNG is in the gallery."""
    studio.check_room()
    job = await run_in_threadpool(restore_job, body, studio)   # decoding, checks and the measurement off the loop
    await studio.run_to_end(job, "the image was not restored", "the restoration failed")
    return job.answer
