"""The sd-webui-controlnet extension's API on the AUTOMATIC1111 endpoints: ControlNet units and listings.

txt2img and img2img take ControlNet units (Zhang, Rao & Agrawala 2023) as the extension does:

    "alwayson_scripts": {"controlnet": {"args": [
        {"image": "<base64 or data: URL>", "module": "canny", "model": "control_v11p_sd15_canny",
         "weight": 1.0, "guidance_start": 0.0, "guidance_end": 1.0, "resize_mode": "Just Resize"}]}}

    module        what makes the control map from the image: none (the image is the map), canny
                  (threshold_a/b: Canny's low/high thresholds), edges, scribble, invert
    model         a ControlNet of GET /controlnet/model_list (the webui's " [hash]" may follow the name)
    weight        its strength, 0 to 2; guidance_start/end: the fraction of the steps where it acts
    resize_mode   how to fit an image of another size than the one to generate: "Just Resize" (0),
                  "Crop and Resize" (1), "Resize and Fill" (2, black borders)

Unlike the extension, which crops and resizes by default, an image of another size and
no resize_mode is refused with the reason: nothing is resized unless asked. A unit
without `enabled` is used (older clients leave it out); `enabled: false` skips it. In
img2img a unit without an image uses the init image, as in the extension. Every bad
unit is a 400 naming the field; what pixeldrift does not act on (control_mode other
than Balanced, pixel_perfect, masks) is listed in info["warnings"].
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Body, Depends
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixeldrift.pipeline.control import MAX_CONTROLS, Control, check_controls
from pixeldrift.pipeline.control_maps import CANNY_HIGH, CANNY_LOW
from pixeldrift.server.control_images import (MODULES, check_span, checked, control_map, fitted, module_of,
                                               png_base64, served_controlnet)
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import Job
from pixeldrift.server.job_request import Name, check_extra_count
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.uploads import decode_base64_image

router = APIRouter(prefix="/controlnet", tags=["sd-webui-controlnet"])
API_VERSION = 2        # what the extension's /controlnet/version answers today
MAX_UNITS_SENT = 16    # units in one request, disabled ones included (UIs send empty slots)
MAX_DETECT_IMAGES = 16
ARGS = "alwayson_scripts.controlnet.args"
RESIZE_MODES = {"just resize": "resize", "0": "resize", "crop and resize": "crop", "1": "crop",
                "inner fit (scale to fit)": "crop", "scale to fit (inner fit)": "crop", "resize and fill": "fill",
                "2": "fill", "outer fit (shrink to fit)": "fill", "envelope (outer fit)": "fill"}
BALANCED = ("0", "balanced")
UNSUPPORTED = ("mask", "mask_image", "effective_region_mask", "advanced_weighting")  # noted unless null
# fields of the extension's unit that change nothing here, whatever their value
QUIET = {"low_vram", "processor_res", "threshold_a", "threshold_b", "save_detected_map", "hr_option", "is_ui",
         "input_mode", "batch_images", "output_dir", "loopback", "inpaint_crop_input_image", "pulid_mode",
         "union_control_type", "ipadapter_input", "animatediff_batch", "batch_image_dir", "batch_mask_dir",
         "batch_input_gallery", "batch_mask_gallery", "generated_image", "use_preview_as_input"}


class ControlNetUnit(BaseModel):
    """One unit as the extension's API takes it; fields it has and pixeldrift ignores are kept to report."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = True
    image: str | dict | None = None
    input_image: str | None = None           # the extension's older name for image
    module: Name = "none"
    model: Name = "None"
    weight: float = Field(1.0, ge=0.0, le=2.0)
    guidance_start: float = Field(0.0, ge=0.0, le=1.0)
    guidance_end: float = Field(1.0, ge=0.0, le=1.0)
    guidance: float | None = Field(None, ge=0.0, le=1.0)   # the older name for guidance_end
    resize_mode: int | Name | None = None
    control_mode: int | Name = 0
    pixel_perfect: bool = False
    threshold_a: float = -1
    threshold_b: float = -1


# ----- units -> the request's controls ------------------------------------------------------

def with_controls(job: Job, scripts, studio: Studio, init_image: Image.Image | None) -> Job:
    """`job` with the ControlNet units of `alwayson_scripts` as its request's controls (checked, maps made)."""
    units, notes = _unit_list(scripts)
    model = studio.catalog.resolve(job.model_name).model
    size = (job.request.width, job.request.height)
    controls = []
    for index, raw in enumerate(units):
        made = _control(index, raw, studio, model, size, init_image, notes)
        if made is not None:
            controls.append(made)
    if len(controls) > MAX_CONTROLS:
        raise ApiError(400, f"{len(controls)} ControlNet units are enabled; at most {MAX_CONTROLS} act at once",
                       ARGS)
    if controls:
        checked(lambda: check_controls(controls, *size), ARGS)
        if job.request.hires is not None:
            raise ApiError(400, "the hires fix (enable_hr) does not yet take ControlNet units", "enable_hr")
        job.request = replace(job.request, controls=tuple(controls))
    job.warnings.extend(notes)
    return job


def _unit_list(scripts) -> tuple[list, list[str]]:
    """The controlnet script's args, and a note for every other always-on script (none runs here)."""
    if scripts is None or scripts == {}:
        return [], []
    if not isinstance(scripts, dict):
        raise ApiError(400, 'alwayson_scripts must be an object: {"controlnet": {"args": [unit, ...]}}',
                       "alwayson_scripts")
    check_extra_count(scripts)
    notes = [f"alwayson_scripts.{str(name)[:60]} is not supported by pixeldrift and was ignored"
             for name in scripts if name.lower() != "controlnet"]
    entry = next((value for name, value in scripts.items() if name.lower() == "controlnet"), None)
    if entry is None:
        return [], notes
    args = entry.get("args") if isinstance(entry, dict) else None
    if not isinstance(args, list):
        raise ApiError(400, 'alwayson_scripts.controlnet must be {"args": [unit, ...]}', "alwayson_scripts.controlnet")
    if len(args) > MAX_UNITS_SENT:
        raise ApiError(400, f"{len(args)} ControlNet units were sent; at most {MAX_UNITS_SENT} are accepted "
                            f"({MAX_CONTROLS} enabled)", ARGS)
    return args, notes


def _control(index: int, raw, studio: Studio, model, size, init_image, notes: list[str]) -> Control | None:
    where = f"{ARGS}[{index}]"
    unit = _unit(raw, where)
    if not unit.enabled:
        return None
    name, preprocess = module_of(unit.module, f"{where}.module")
    controlnet = served_controlnet(studio, unit.model, model, f"{where}.model")
    start, end = unit.guidance_start, unit.guidance_end if unit.guidance is None else unit.guidance
    check_span(start, end, where, "guidance_start", "guidance_end")
    image = _fitted(_unit_image(unit, where, studio, init_image), size, unit.resize_mode, where)
    notes.extend(_notes(unit, where))
    return Control(controlnet, control_map(image, preprocess, unit.threshold_a, unit.threshold_b), unit.weight,
                   start, end, module=name)


def _unit(raw, where: str) -> ControlNetUnit:
    if not isinstance(raw, dict):
        raise ApiError(400, f"{where} must be an object (a ControlNet unit), got {type(raw).__name__}", where)
    try:
        return ControlNetUnit.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join([where, *(str(p) for p in problem.get("loc", ()))])
        raise ApiError(400, f"{field}: {problem.get('msg', 'invalid')}", field) from None


def _unit_image(unit: ControlNetUnit, where: str, studio: Studio, init_image) -> Image.Image:
    """The unit's image (base64, a data: URL, or {"image": ...}); img2img's init image when it has none."""
    image, field = unit.image if unit.image is not None else unit.input_image, f"{where}.image"
    if isinstance(image, dict):
        image, field = image.get("image"), f"{where}.image.image"
    if image is None or image == "":   # webuiapi sends "" for no image
        if init_image is not None:
            return init_image
        raise ApiError(400, f"{field}: a ControlNet unit needs an image (base64-encoded)", field)
    s = studio.settings
    return decode_base64_image(image, field, s.max_upload_bytes, s.max_upload_pixels)


def _fitted(image: Image.Image, size: tuple[int, int], mode, where: str) -> Image.Image:
    """The image at the size to generate, as resize_mode says; refused when another size comes without one."""
    how = None if mode is None or image.size == size else RESIZE_MODES.get(str(mode).strip().lower())
    if mode is not None and how is None and image.size != size:
        raise ApiError(400, f"{where}.resize_mode {str(mode)[:60]!r} is unknown; accepted: \"Just Resize\" (0), "
                            "\"Crop and Resize\" (1), \"Resize and Fill\" (2)", f"{where}.resize_mode")
    return fitted(image, size, how, f"{where}.image", 'say how to fit it with resize_mode ("Just Resize", '
                                                      '"Crop and Resize" or "Resize and Fill")')


def _notes(unit: ControlNetUnit, where: str) -> list[str]:
    """A note for each field of the unit that pixeldrift does not act on."""
    notes = []
    if str(unit.control_mode).strip().lower() not in BALANCED:
        notes.append(f"{where}.control_mode={str(unit.control_mode)[:40]!r} is not supported by pixeldrift and "
                     "was ignored (Balanced: the control acts on both halves of classifier-free guidance)")
    if unit.pixel_perfect:
        notes.append(f"{where}.pixel_perfect is not supported by pixeldrift and was ignored")
    extra = unit.model_extra or {}
    check_extra_count(extra)
    for name, value in extra.items():
        if name in UNSUPPORTED:
            if value is not None:
                notes.append(f"{where}.{name} is not supported by pixeldrift and was ignored")
        elif name not in QUIET:
            notes.append(f"{where}: unknown field {str(name)[:60]!r} was ignored")
    return notes


# ----- the extension's own endpoints --------------------------------------------------------

@router.get("/version")
def version() -> dict:
    return {"version": API_VERSION}


@router.get("/model_list")
def model_list(update: bool = True, studio: Studio = Depends(get_studio)) -> dict:
    return {"model_list": studio.controls.names()}


@router.get("/module_list")
def module_list(alias_names: bool = False) -> dict:
    canny = [{"name": "Canny Low Threshold", "value": CANNY_LOW, "min": 1, "max": 255},
             {"name": "Canny High Threshold", "value": CANNY_HIGH, "min": 1, "max": 255}]
    return {"module_list": list(MODULES),
            "module_detail": {name: {"model_free": False, "sliders": canny if name == "canny" else []}
                              for name in MODULES}}


@router.get("/settings")
def settings() -> dict:
    return {"control_net_unit_count": MAX_CONTROLS}


@router.post("/detect")
def detect(controlnet_module: Name = Body("none"), controlnet_input_images: list[str] = Body([]),
           controlnet_images: list[str] = Body([]), controlnet_threshold_a: float = Body(-1),
           controlnet_threshold_b: float = Body(-1), studio: Studio = Depends(get_studio)) -> dict:
    """The control maps a module makes of the images sent, as base64 PNGs (the extension's preview); an image
    larger than the server's max_side is first scaled down to fit it (the extension's processor_res).
    controlnet_images: the older name of controlnet_input_images (webuiapi sends it)."""
    name, preprocess = module_of(controlnet_module, "controlnet_module")
    controlnet_input_images = controlnet_input_images or controlnet_images
    if not controlnet_input_images or len(controlnet_input_images) > MAX_DETECT_IMAGES:
        raise ApiError(400, f"controlnet_input_images: send 1 to {MAX_DETECT_IMAGES} base64 images",
                       "controlnet_input_images")
    s, maps = studio.settings, []
    for i, text in enumerate(controlnet_input_images):
        image = decode_base64_image(text, f"controlnet_input_images[{i}]", s.max_upload_bytes, s.max_upload_pixels)
        image = ImageOps.contain(image.convert("RGB"), (s.max_side, s.max_side)) \
            if max(image.size) > s.max_side else image.convert("RGB")
        maps.append(png_base64(control_map(image, preprocess, controlnet_threshold_a, controlnet_threshold_b)))
    return {"images": maps, "info": "Success"}
