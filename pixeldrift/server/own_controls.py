"""ControlNets in the studio's own API: a job's controls, and the map a module makes, to show it.

    POST /api/jobs         {..., "controls": [{"model": "cn-edges", "image": "<base64 PNG or data: URL>",
                                               "module": "edges", "weight": 1.0, "start": 0.0, "end": 1.0,
                                               "resize": false}]}
    POST /api/control/map  {"image": ..., "module": "edges", "width": 64, "height": 64, "resize": false}
                           -> {"map": "data:image/png;base64,...", "module": "edges", "width": 64, "height": 64}

model is one of /api/info's "controls" that steers the job's model; module makes the map
from the image (control_images.py: none, canny, invert, edges, scribble); weight is the
control's strength (0 to 2), start and end the fraction of the steps where it acts. An
image of another size than the one generated is refused unless resize is true; img2img
and inpaint use their start image when a control has none. /api/control/map answers the
map a job with that control reads, so a page can show it beside the result. Every bad
field is a 4xx naming it.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.pipeline.control import MAX_CONTROLS, Control, check_controls
from pixeldrift.server.control_images import (MODULES, check_span, checked, control_map, fitted, module_of,
                                              png_base64, served_controlnet)
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import Job
from pixeldrift.server.job_request import Name
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_base64_image

router = APIRouter(prefix="/api", tags=["pixeldrift"])
HOW_TO_RESIZE = "send resize: true to have it resized to that size"


class ControlBody(BaseModel):
    """One control of a job."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: Name = Field(description="a served ControlNet (/api/info controls) that steers the job's model")
    image: str | None = Field(None, description="base64 PNG/JPEG/WEBP or a data: URL; img2img and inpaint "
                                                "use their start image when it is left out")
    module: Name = Field("none", description="what makes the map from the image: none, canny, invert, edges, "
                                             "scribble")
    weight: float = Field(1.0, ge=0.0, le=2.0, description="the control's strength; 0 is the base model")
    start: float = Field(0.0, ge=0.0, le=1.0, description="acts from this fraction of the steps ...")
    end: float = Field(1.0, ge=0.0, le=1.0, description="... to this one")
    resize: bool = Field(False, description="resize an image of another size (else it is refused)")


class MapBody(BaseModel):
    """An image and a module: the control map a job would read."""

    model_config = ConfigDict(extra="forbid", strict=True)
    image: str
    module: Name = "none"
    width: int = Field(ge=1, description="the size of the image to generate")
    height: int = Field(ge=1)
    resize: bool = False


def with_own_controls(job: Job, controls: list[ControlBody], studio: Studio, init_image: Image.Image | None) -> None:
    """Add the request's controls to the job's request, each checked and its map made."""
    if not controls:
        return
    model = studio.catalog.resolve(job.model_name).model
    size = (job.request.width, job.request.height)
    made = tuple(_control(f"controls.{i}", body, studio, model, size, init_image) for i, body in enumerate(controls))
    checked(lambda: check_controls(made, *size), "controls")
    job.request = replace(job.request, controls=job.request.controls + made)


def _control(where: str, body: ControlBody, studio: Studio, model, size, init_image) -> Control:
    name, preprocess = module_of(body.module, f"{where}.module")
    controlnet = served_controlnet(studio, body.model, model, f"{where}.model")
    check_span(body.start, body.end, where, "start", "end")
    image = _image(body.image, f"{where}.image", studio, init_image)
    control_image = _fitted_map(image, preprocess, size, body.resize, f"{where}.image")
    return Control(controlnet, control_image, body.weight, body.start, body.end, module=name)


def _image(text: str | None, field: str, studio: Studio, init_image) -> Image.Image:
    if text is None or text == "":
        if init_image is not None:
            return init_image
        raise ApiError(400, f"{field}: a control needs an image (base64-encoded, or a data: URL)", field)
    s = studio.settings
    return decode_base64_image(text, field, s.max_upload_bytes, s.max_upload_pixels)


def _fitted_map(image: Image.Image, preprocess, size: tuple[int, int], resize: bool, field: str) -> Image.Image:
    """The map of the image at the size generated (resized first when asked, as a job does)."""
    return control_map(fitted(image, size, "resize" if resize else None, field, HOW_TO_RESIZE), preprocess)


def control_listing(studio: Studio) -> dict:
    """For /api/info: the served ControlNets (name, kind, the served models each steers) and the modules."""
    steers = studio.controls.steers(studio.catalog)
    return {"controls": [{"name": name, "kind": entry.control.kind or None, "models": steers[name]}
                         for name, entry in studio.controls.entries.items()],
            "control_modules": list(MODULES)}


@router.post("/control/map")
def preprocessed_map(body: MapBody, studio: Studio = Depends(get_studio)) -> dict:
    """The map a job's control with this image, module, size and resize reads."""
    s = studio.settings
    for name in ("width", "height"):
        if getattr(body, name) > s.max_side:
            raise ApiError(400, f"{name} must be at most {s.max_side} pixels on this server", name)
    module, preprocess = module_of(body.module, "module")
    image = decode_base64_image(body.image, "image", s.max_upload_bytes, s.max_upload_pixels)
    made = _fitted_map(image, preprocess, (body.width, body.height), body.resize, "image")
    return {"map": "data:image/png;base64," + png_base64(made), "module": module, "width": made.width,
            "height": made.height}
