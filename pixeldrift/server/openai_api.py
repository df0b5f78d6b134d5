"""OpenAI Images API-compatible endpoints, so the official `openai` client works unchanged.

    POST /v1/images/generations   JSON: prompt, model, n, size, response_format (b64_json | url)
    POST /v1/images/edits         multipart: image, mask, prompt, model, n, size, response_format
    POST /v1/images/variations    multipart: image, model, n, size, response_format
    GET  /v1/models               the models this server offers

Answers have OpenAI's shape ({"created", "data": [{"b64_json" | "url"}]}) plus
"pixeldrift_warnings" listing the fields that were not honoured. Edits follow OpenAI's
mask rule: where the mask (or, without one, the image) is fully transparent is
repainted; with no transparency at all, the whole image is re-generated (img2img).
OpenAI's own model names (dall-e-*, gpt-image-*) run the server's default model, with a warning.
A size the model cannot draw is drawn at its own scale and resized (openai_size.py); with
`serve --upscaler`, square sizes above the model's own are enlarged by the trained upscaler first. A variation
redraws the image (image-to-image) from its own prompt: the one in its pixeldrift labels, or a
`prompt` field sent with it (a pixeldrift extension; OpenAI's variations take no prompt).
Errors name the client's field (n, size, image), not ours.
"""

from __future__ import annotations

import re
import time

import numpy as np
from fastapi import APIRouter, Depends, Request
from PIL import Image
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from pixeldrift.pipeline.request import MAX_PROMPT_CHARS
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.png_chunks import PngFormatError
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import FAILED, Job
from pixeldrift.server.job_request import MAX_NAME_CHARS, Name, Prompt, build_job, check_extra_count
from pixeldrift.server.openai_size import SizePlan, parse_size, plan_size
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_image

router = APIRouter(prefix="/v1/images", tags=["OpenAI Images"])
models_router = APIRouter(prefix="/v1", tags=["OpenAI Images"])
STARTED = int(time.time())    # the "created" time of the models this server offers
OPENAI_MODELS = re.compile(r"^(dall-e-|gpt-image-|chatgpt-image)", re.IGNORECASE)
# fields with no effect here, and the value that means "as usual"
IGNORED = {"quality": ("auto", "standard"), "style": (), "background": ("auto", "opaque"), "moderation": ("auto",),
           "output_compression": (), "input_fidelity": (), "partial_images": (0, "0"), "complexity": ()}
HARMLESS = {"user", "safety_identifier"}  # who is asking: nothing to honour
EDIT_FIELDS = {"image", "image[]", "mask", "prompt", "model", "n", "size", "response_format", "strength",
               "output_format", "stream"}
VARIATION_FIELDS = {"image", "model", "n", "size", "response_format", "prompt"}
EDIT_STRENGTH = 0.75  # whole-image edits (no transparency): keep the composition, change the content
VARIATION_STRENGTH = 0.6   # a variation keeps the layout and colours, and changes the details
# our field -> the client's, so an error names what the client sent
CLIENT_PARAMS = {"batch_size": "n", "n_iter": "n", "width": "size", "height": "size", "init_image": "image"}


class GenerationBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    prompt: Prompt
    model: Name | None = None
    n: int = 1
    size: Name | None = None
    response_format: Name | None = None
    output_format: Name | None = None
    stream: bool | None = None


@router.post("/generations")
async def generations(body: GenerationBody, request: Request, studio: Studio = Depends(get_studio)) -> dict:
    studio.check_room()
    warnings = _ignored(body.model_extra or {})
    _check_common(body.response_format, body.output_format, body.stream)
    model = _model(body.model, studio, warnings)
    plan = _plan(studio, model, parse_size(body.size), warnings)
    job = await run_in_threadpool(_build, studio, plan, kind="txt2img", model=model, prompt=body.prompt,
                                  batch_size=_n(body.n, studio), warnings=warnings)
    return await _answer(job, studio, request, body.response_format)


def _build(studio: Studio, plan: SizePlan, **fields) -> Job:
    """build_job at the planned size; its errors renamed to the client's fields."""
    try:
        job = build_job(studio.settings, studio.catalog, source="openai", width=plan.width, height=plan.height,
                        **fields)
        studio.adapters.for_job(job, studio.catalog)
    except ApiError as error:
        error.param = CLIENT_PARAMS.get(error.param, error.param)
        raise
    job.output_size, job.output_upscaler = plan.output, plan.upscaler
    return job


def _plan(studio: Studio, model: str | None, size: tuple[int, int] | None, warnings: list[str]) -> SizePlan:
    """How to make `size` with this model; the note on resizing joins the warnings."""
    try:
        entry = studio.catalog.resolve(model)
    except ValueError as error:
        raise ApiError(400, str(error), "model") from None
    plan = plan_size(size, entry.model.limits, studio.settings.max_side, studio.upscaler)
    warnings += [plan.note(entry.name)] if plan.output else []
    return plan


def _image_form(required: list[str], **extra: dict) -> dict:
    """The OpenAPI description of a multipart image form: the fields edits and variations share, and `extra`."""
    properties = {"image": {"type": "string", "format": "binary"}, "model": {"type": "string"},
                  "n": {"type": "integer"}, "size": {"type": "string"},
                  "response_format": {"type": "string", "enum": ["url", "b64_json"]}, **extra}
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}


EDIT_FORM = _image_form(["image", "prompt"], mask={"type": "string", "format": "binary"}, prompt={"type": "string"},
                        strength={"type": "number", "description": "pixeldrift: how much of an unmasked image "
                                                                     "to change (default 0.75)"})


@router.post("/edits", openapi_extra=EDIT_FORM)
async def edits(request: Request, studio: Studio = Depends(get_studio)) -> dict:
    studio.check_room()
    form = await _form(request)
    values = _text_fields(form)
    images = form.getlist("image") + form.getlist("image[]")
    if not images or any(isinstance(i, str) for i in images):
        raise ApiError(400, "image is required: upload it as a file (image URLs are never fetched)", "image")
    mask = form.get("mask")
    if isinstance(mask, str):
        raise ApiError(400, "mask must be an uploaded file (mask URLs are never fetched)", "mask")
    uploads = {"image": await _read(images[0], studio.settings),
               "mask": None if mask is None else await _read(mask, studio.settings)}
    warnings = [] if len(images) == 1 else [f"{len(images)} images were sent; pixeldrift edits the first only"]
    job = await run_in_threadpool(_edit_job, studio, values, uploads, warnings)  # decoding off the event loop
    return await _answer(job, studio, request, values.get("response_format"))


def _edit_job(studio: Studio, values: dict, uploads: dict, warnings: list[str]) -> Job:
    s = studio.settings
    prompt = values.get("prompt")
    if not prompt:
        raise ApiError(400, "prompt is required", "prompt")
    image = decode_image(uploads["image"], "image", s.max_upload_bytes, s.max_upload_pixels)
    mask = None if uploads["mask"] is None else decode_image(uploads["mask"], "mask", s.max_upload_bytes,
                                                             s.max_upload_pixels)
    warnings += _ignored({k: v for k, v in values.items() if k not in EDIT_FIELDS})
    _check_common(values.get("response_format"), values.get("output_format"), _flag(values.get("stream")))
    repaint, note = _repaint_mask(image, mask)
    warnings += [note] if note else []
    strength = _number(values.get("strength"), "strength", 1.0 if repaint is not None else EDIT_STRENGTH)
    model = _model(values.get("model"), studio, warnings)
    plan = _plan(studio, model, parse_size(values.get("size")) or image.size, warnings)
    return _build(studio, plan, kind="inpaint" if repaint is not None else "img2img", model=model, prompt=prompt,
                  init_image=image.convert("RGB"), mask=repaint, strength=strength,
                  batch_size=_n(_number(values.get("n"), "n", 1, int), studio), warnings=warnings)


VARIATION_FORM = _image_form(["image"], prompt={"type": "string", "description": "pixeldrift: the prompt to redraw "
                                                 "the image with, when its PNG carries no pixeldrift labels"})


@router.post("/variations", openapi_extra=VARIATION_FORM)
async def variations(request: Request, studio: Studio = Depends(get_studio)) -> dict:
    studio.check_room()
    form = await _form(request)
    values = _text_fields(form)
    image = form.get("image")
    if image is None or isinstance(image, str):
        raise ApiError(400, "image is required: upload it as a file (image URLs are never fetched)", "image")
    data = await _read(image, studio.settings)
    job = await run_in_threadpool(_variation_job, studio, values, data)
    return await _answer(job, studio, request, values.get("response_format"))


def _variation_job(studio: Studio, values: dict, data: bytes) -> Job:
    s = studio.settings
    image = decode_image(data, "image", s.max_upload_bytes, s.max_upload_pixels)
    warnings = _ignored({k: v for k, v in values.items() if k not in VARIATION_FIELDS})
    _check_common(values.get("response_format"), None, None)
    model = _model(values.get("model"), studio, warnings)
    plan = _plan(studio, model, parse_size(values.get("size")) or image.size, warnings)
    return _build(studio, plan, kind="img2img", model=model, prompt=values.get("prompt") or _own_prompt(data),
                  init_image=image.convert("RGB"), strength=VARIATION_STRENGTH,
                  batch_size=_n(_number(values.get("n"), "n", 1, int), studio), warnings=warnings)


def _own_prompt(png: bytes) -> str:
    """The prompt in an image's pixeldrift labels: what a variation of it is redrawn with."""
    try:
        record = read_labels(png).record
    except PngFormatError:
        record = None
    if record is None or not record.prompt:
        raise ApiError(400, "this image carries no pixeldrift generation record to take a prompt from; send a "
                            "'prompt' field with it (a pixeldrift extension)", "image")
    return record.prompt


@models_router.get("/models")
def list_models(studio: Studio = Depends(get_studio)) -> dict:
    return {"object": "list", "data": [_model_card(name) for name in studio.catalog.names()]}


@models_router.get("/models/{model_id}")
def get_model(model_id: str, studio: Studio = Depends(get_studio)) -> dict:
    if model_id not in studio.catalog.entries:
        raise ApiError(404, f"no model {model_id[:MAX_NAME_CHARS]!r}; see GET /v1/models", "model")
    return _model_card(model_id)


def _model_card(name: str) -> dict:
    return {"id": name, "object": "model", "created": STARTED, "owned_by": "pixeldrift"}


def _text_fields(form) -> dict:
    """The form's text fields, each bounded before any work is done on it."""
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    check_extra_count(values)
    for name, value in values.items():
        limit = MAX_PROMPT_CHARS if name == "prompt" else MAX_NAME_CHARS
        if len(value) > limit:
            raise ApiError(400, f"{name} is {len(value)} characters; at most {limit} are accepted", name)
    return values


async def _form(request: Request):
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "send the edit as multipart/form-data with an image file and a prompt")
    try:
        return await request.form(max_files=8, max_fields=64)
    except Exception as error:  # python-multipart and Starlette raise several kinds for broken bodies
        raise ApiError(400, f"malformed multipart body: {error}") from None


async def _read(upload, s) -> bytes:
    data = await upload.read(s.max_upload_bytes + 1)
    if len(data) > s.max_upload_bytes:
        raise ApiError(413, f"upload {upload.filename!r} is larger than {s.max_upload_bytes} bytes", "image")
    return data


def _repaint_mask(image: Image.Image, mask: Image.Image | None) -> tuple[Image.Image | None, str | None]:
    """White-repaint mask from OpenAI's transparency rule; None means edit the whole image."""
    source = mask if mask is not None else image
    if mask is not None and mask.size != image.size:
        raise ApiError(400, f"the mask is {mask.size[0]}x{mask.size[1]} but the image is "
                            f"{image.size[0]}x{image.size[1]}; they must be the same size", "mask")
    if "A" in source.getbands() or source.mode == "P" and "transparency" in source.info:
        alpha = np.asarray(source.convert("RGBA"))[..., 3]
        if (alpha == 0).any():
            return Image.fromarray(np.where(alpha == 0, 255, 0).astype(np.uint8), "L"), None
        return None, ("the mask has no fully transparent pixels; the whole image was re-generated" if mask
                      is not None else None)
    if mask is not None:
        return mask.convert("L"), "the mask has no alpha channel; its white pixels were taken as the area to edit"
    return None, None


def _model(name: str | None, studio: Studio, warnings: list[str]) -> str | None:
    if name and OPENAI_MODELS.match(name) and name not in studio.catalog.entries:
        warnings.append(f"model {name!r} is OpenAI's; this server ran {studio.catalog.default_name!r}")
        return None
    return name


def _n(n, studio: Studio) -> int:
    most = studio.settings.max_images
    if type(n) is not int or not 1 <= n <= most:
        raise ApiError(400, f"n must be an integer from 1 to {most} on this server, got {n!r}", "n")
    return n


def _number(text, name: str, default, kind=float):
    """A form field as int or float; the default when absent; 400 naming the field otherwise."""
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        wanted = "an integer" if kind is int else "a number"
        raise ApiError(400, f"{name} must be {wanted}, got {text!r}", name) from None


def _flag(text) -> bool:
    return str(text).lower() in ("true", "1") if text is not None else False


def _check_common(response_format, output_format, stream) -> None:
    if response_format not in (None, "url", "b64_json"):
        raise ApiError(400, f"response_format must be 'url' or 'b64_json', got {response_format!r}",
                       "response_format")
    if output_format not in (None, "png"):
        raise ApiError(400, f"output_format {output_format!r} is not available; pixeldrift writes PNG only "
                            "(its labels and watermark live in PNG chunks)", "output_format")
    if stream:
        raise ApiError(400, "streaming (stream=true) is not supported; poll /api/jobs for progress instead",
                       "stream")


def _ignored(extra: dict) -> list[str]:
    check_extra_count(extra)
    notes = []
    for name, value in extra.items():
        if name in HARMLESS:
            continue
        if name not in IGNORED:
            notes.append(f"unknown field {name!r} was ignored")
        elif value is not None and value not in IGNORED[name]:
            shown = value[:60] if isinstance(value, str) else value
            notes.append(f"{name}={shown!r} is not supported by pixeldrift and was ignored")
    return notes


async def _answer(job: Job, studio: Studio, request: Request, response_format: str | None) -> dict:
    studio.submit(job)
    await job.wait_finished()
    if job.status == FAILED:
        raise ApiError(500, job.error or "generation failed")
    base = str(request.base_url).rstrip("/")
    if response_format == "url":
        data = [{"url": f"{base}/api/gallery/{i}/image.png", "revised_prompt": None} for i in job.image_ids]
    else:
        data = [{"b64_json": studio.image_base64(i), "revised_prompt": None} for i in job.image_ids]
    width, height = job.output_size or (job.request.width, job.request.height)
    return {"created": int(time.time()), "data": data, "output_format": "png", "size": f"{width}x{height}",
            "pixeldrift_warnings": job.warnings}
