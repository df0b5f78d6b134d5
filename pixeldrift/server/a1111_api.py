"""AUTOMATIC1111-compatible endpoints (/sdapi/v1), for the many clients that speak that API.

txt2img and img2img wait for their job and answer as the webui does: base64 images,
the parameters, and `info` as a JSON string. txt2img's hires fix (enable_hr) is read in
a1111_hires.py. Fields pixeldrift cannot honour are
listed in info["warnings"] (and unknown fields too), never dropped silently; the values
the webui itself treats as off or default (which clients send every time) are not news.
ControlNet units (`alwayson_scripts.controlnet`, the sd-webui-controlnet extension's API)
are read in a1111_controlnet.py.
Every result is also kept in the gallery (info["gallery_ids"]). An interrupted or skipped
batch is answered as it was at that step, as the webui does. Listings and options are in
a1111_settings.py.
"""

from __future__ import annotations

import base64
import json
import time

from fastapi import APIRouter, Depends
from PIL import ImageOps
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from pixeldrift import __version__
from pixeldrift.server.a1111_controlnet import with_controls
from pixeldrift.server.a1111_hires import hires_from, hires_warnings
from pixeldrift.server.a1111_names import display_name, resolve_sampler
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import CANCELLED, FAILED, Job
from pixeldrift.server.job_request import Name, Prompt, build_job, check_extra_count
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_base64_image

router = APIRouter(prefix="/sdapi/v1", tags=["AUTOMATIC1111"])

# Fields pixeldrift does not act on, with the values the webui itself treats as "off" or as its
# default: clients such as webuiapi send every one of them on every call, so only other values warn.
INERT = {
    "styles": ([], None), "restore_faces": (False, None), "tiling": (False, None),
    "s_churn": (0, None), "s_tmin": (0, None), "s_tmax": (0, None), "s_noise": (1, None),
    "seed_resize_from_h": (-1, 0, None), "seed_resize_from_w": (-1, 0, None), "refiner_checkpoint": ("", None),
    "script_name": ("", None), "inpaint_full_res": (False, 0, None),
    "inpainting_fill": (1, None), "resize_mode": (0, None), "initial_noise_multiplier": (1, None),
    "latent_mask": (None,), "firstpass_image": (None,), "eta": (None,),
}
# The webui acts on these only when another field turns them on; otherwise any value is inert.
ONLY_WITH = {"script_args": "script_name", "refiner_switch_at": "refiner_checkpoint"}
HIRES = {"hr_checkpoint_name", "hr_sampler_name", "hr_scheduler", "hr_prompt",
         "hr_negative_prompt"}   # a1111_hires.py notes them with enable_hr
MASK_ONLY = {"inpaint_full_res", "inpaint_full_res_padding", "inpainting_fill"}    # act only with a mask
# eta scales the fresh noise of these samplers only; the value is each one's default in the webui
ETA_DEFAULTS = {"euler_ancestral": 1.0, "dpmpp_2m_sde": 1.0, "ddim": 0.0}
# Fields about saving files on the webui's side or its job bookkeeping: meaningless here, no warning.
HARMLESS = {"do_not_save_samples", "do_not_save_grid", "save_images", "include_init_images",
            "override_settings_restore_afterwards", "disable_extra_networks", "comments", "force_task_id",
            "sampler_index", "infotext", "firstphase_width", "firstphase_height", "user",
            "image_cfg_scale"}   # image_cfg_scale: only instruct-pix2pix models read it, in the webui too


class A1111Body(BaseModel):
    """The webui's request fields that pixeldrift acts on; everything else is kept and reported."""

    model_config = ConfigDict(extra="allow")
    prompt: Prompt = ""
    negative_prompt: Prompt = ""
    steps: int | None = None          # None: the model's own default (the webui's is 20)
    cfg_scale: float | None = None    # None: the model's own default (the webui's is 7)
    width: int | None = None
    height: int | None = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0.0
    sampler_name: Name | None = None
    sampler_index: Name | None = None
    scheduler: Name | None = None
    batch_size: int = 1
    n_iter: int = 1
    denoising_strength: float | None = None   # img2img's, and with enable_hr the hires fix's second pass
    enable_hr: bool = False                     # txt2img's hires fix, with the hr_ fields (a1111_hires.py)
    hr_scale: float = 2.0
    hr_upscaler: Name | None = None             # None: the webui's default, "Latent"
    hr_second_pass_steps: int = 0
    hr_resize_x: int = 0
    hr_resize_y: int = 0
    init_images: list[str] | None = Field(None, max_length=16)
    mask: str | None = None
    mask_blur: int = 4
    inpainting_mask_invert: int = 0
    send_images: bool = True
    override_settings: dict | None = None


def _warnings(body: A1111Body, img2img: bool) -> list[str]:
    """A note for each field sent with a value pixeldrift would not honour; none for the webui's defaults."""
    extra = body.model_extra or {}
    check_extra_count(extra)
    check_extra_count(body.override_settings or {})
    notes = [note for name, value in extra.items() if (note := _field_note(name, value, body))]
    notes += [f"override_settings.{name} is not supported by pixeldrift and was ignored"
              for name in (body.override_settings or {}) if name != "sd_model_checkpoint"]
    if img2img and len(body.init_images or []) > 1:
        notes.append(f"{len(body.init_images)} init_images were sent; pixeldrift uses the first only")
    return notes + hires_warnings(body, img2img)


def _field_note(name: str, value, body: A1111Body) -> str | None:
    extra = body.model_extra or {}
    if name == "alwayson_scripts":
        return None   # a1111_controlnet.py reads the ControlNet units and notes every other script
    if name in HARMLESS or name in HIRES or (name in MASK_ONLY and body.mask is None):
        return None   # HIRES: a1111_hires.py notes them when enable_hr is on
    if name in ONLY_WITH:
        return None if not extra.get(ONLY_WITH[name]) else f"{name} was ignored with {ONLY_WITH[name]}"
    if name not in INERT:
        return f"unknown field {name!r} was ignored"
    if value in INERT[name] or name == "eta" and _eta_is_default(value, body):
        return None
    shown = json.dumps(value[:60] if isinstance(value, str) else value)[:60]
    return f"{name}={shown} is not supported by pixeldrift and was ignored"


def _eta_is_default(eta, body: A1111Body) -> bool:
    """Whether eta leaves the sampler as it is: samplers without fresh noise ignore it, in the webui too."""
    try:
        ours, _ = resolve_sampler(body.sampler_name or body.sampler_index)
    except ValueError:
        return True   # build_job names the unknown sampler
    return ours not in ETA_DEFAULTS or eta == ETA_DEFAULTS[ours]


async def _generate(body: A1111Body, studio: Studio, img2img: bool) -> dict:
    studio.check_room()
    job = await run_in_threadpool(_job, body, studio, img2img)  # decoding and checks off the event loop
    studio.submit(job)
    await job.wait_finished()
    if job.status == FAILED:
        raise ApiError(500, job.error or "generation failed")
    images = [studio.image_base64(i) for i in job.image_ids] if body.send_images else []
    parameters = body.model_dump(exclude={"init_images", "mask"})
    return {"images": images, "parameters": parameters, "info": json.dumps(_info(job, studio))}


def _job(body: A1111Body, studio: Studio, img2img: bool) -> Job:
    s = studio.settings
    fields = {"prompt": body.prompt, "negative_prompt": body.negative_prompt, "steps": body.steps,
              "guidance": body.cfg_scale, "batch_size": body.batch_size, "width": body.width, "height": body.height}
    if body.subseed_strength > 0:
        fields.update(variation_seed=body.subseed, variation_strength=body.subseed_strength)
    kind = "txt2img"
    model = (body.override_settings or {}).get("sd_model_checkpoint")
    if img2img:
        kind, image_fields = _img2img_fields(body, s)
        fields.update(image_fields)
    else:
        fields["hires"] = hires_from(body, studio, model)
    job = build_job(s, studio.catalog, kind=kind, model=model, sampler=body.sampler_name or body.sampler_index,
                    schedule=body.scheduler, seed=body.seed, iterations=body.n_iter,
                    warnings=_warnings(body, img2img), source="a1111", **fields)
    studio.adapters.for_job(job, studio.catalog)
    return with_controls(job, (body.model_extra or {}).get("alwayson_scripts"), studio, fields.get("init_image"))


def _img2img_fields(body: A1111Body, s) -> tuple[str, dict]:
    if not body.init_images:
        raise ApiError(400, "img2img needs init_images: a list with one base64-encoded image", "init_images")
    init = decode_base64_image(body.init_images[0], "init_images[0]", s.max_upload_bytes, s.max_upload_pixels)
    fields = {"init_image": init, "strength": 0.75 if body.denoising_strength is None else body.denoising_strength}
    if body.mask is None:
        return "img2img", fields
    mask = decode_base64_image(body.mask, "mask", s.max_upload_bytes, s.max_upload_pixels).convert("L")
    if body.inpainting_mask_invert:
        mask = ImageOps.invert(mask)
    return "inpaint", {**fields, "mask": mask, "mask_blur": body.mask_blur}


def _info(job: Job, studio: Studio) -> dict:
    r = job.request
    rows = [studio.gallery.get(i) for i in job.image_ids]
    rows = [row for row in rows if row is not None]
    seeds = [row["seed"] for row in rows] or [r.seed]
    extra = rows[0]["settings"]["record"]["extra"] if rows else {}
    prompt = r.prompt if job.adapters is None else job.adapters.prompt   # the webui's: <lora:...> tags kept
    return {"prompt": prompt, "all_prompts": [prompt] * len(seeds), "negative_prompt": r.negative_prompt,
            "all_negative_prompts": [r.negative_prompt] * len(seeds), "seed": seeds[0], "all_seeds": seeds,
            "subseed": r.variation_seed if r.variation_seed is not None else -1,
            "all_subseeds": [r.variation_seed + i if r.variation_seed is not None else -1 for i in range(len(seeds))],
            "subseed_strength": r.variation_strength, "width": r.width, "height": r.height,
            "sampler_name": display_name(r.sampler), "scheduler": r.schedule, "cfg_scale": r.guidance,
            "steps": r.steps, "batch_size": r.batch_size, "n_iter": job.iterations, "restore_faces": False,
            "sd_model_name": job.model_name, "sd_model_hash": None,
            "denoising_strength": r.hires.strength if r.hires is not None else
            r.strength if r.init_image is not None else None,
            "extra_generation_params": extra, "index_of_first_image": 0,
            "infotexts": [row["provenance"]["parameters"] for row in rows], "styles": [],
            "job_timestamp": time.strftime("%Y%m%d%H%M%S", time.localtime(job.created)),
            "clip_skip": 1, "is_using_inpainting_conditioning": False, "version": f"pixeldrift {__version__}",
            "interrupted": job.status == CANCELLED, "warnings": job.warnings, "job_id": job.id,
            "gallery_ids": list(job.image_ids)}


@router.post("/txt2img")
async def txt2img(body: A1111Body, studio: Studio = Depends(get_studio)) -> dict:
    return await _generate(body, studio, img2img=False)


@router.post("/img2img")
async def img2img(body: A1111Body, studio: Studio = Depends(get_studio)) -> dict:
    return await _generate(body, studio, img2img=True)


@router.post("/interrupt")
def interrupt(studio: Studio = Depends(get_studio)) -> dict:
    """Stop the running job; as in the webui, it answers with its images as they are now."""
    job = studio.queue.current
    if job is not None:
        studio.queue.cancel(job, keep_partial=True)
    return {}


@router.post("/skip")
def skip(studio: Studio = Depends(get_studio)) -> dict:
    """End the batch being made, kept as it is now; the job's next batch (n_iter) goes on."""
    job = studio.queue.current
    if job is not None:
        job.update(skip_requested=True)
    return {}


@router.get("/progress")
def progress(skip_current_image: bool = False, studio: Studio = Depends(get_studio)) -> dict:
    job = studio.queue.current
    counts = studio.queue.counts()
    state = {"skipped": False, "interrupted": False, "stopping_generation": False, "job": "", "job_count":
             counts["queued"] + counts["running"], "job_timestamp": "0", "job_no": 0, "sampling_step": 0,
             "sampling_steps": 0}
    if job is None:
        return {"progress": 0.0, "eta_relative": 0.0, "state": state, "current_image": None, "textinfo": None,
                "current_task": None}
    fraction = job.step / job.total_steps if job.total_steps else 0.0
    elapsed = time.time() - (job.started or time.time())
    eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
    state.update(job=job.id, job_timestamp=time.strftime("%Y%m%d%H%M%S", time.localtime(job.created)),
                 interrupted=bool(job.cancel_requested), sampling_step=job.step, sampling_steps=job.total_steps)
    preview = job.preview_png
    image = None if skip_current_image or preview is None else base64.b64encode(preview).decode()
    return {"progress": round(fraction, 4), "eta_relative": round(eta, 3), "state": state, "current_image": image,
            "textinfo": f"step {job.step} of {job.total_steps}", "current_task": job.id}
