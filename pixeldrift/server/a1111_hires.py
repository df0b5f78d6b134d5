"""The webui's hires fix fields on txt2img (enable_hr, hr_scale, hr_upscaler, hr_second_pass_steps,
hr_resize_x/y, denoising_strength), read into a pipeline.hires_fix.HiresFix. hr_upscaler "SR3" is the
trained upscaler of `pixeldrift serve --upscaler FOLDER`, where there is one.

Every value is checked before anything is queued, a 400 naming the webui's field. The
fields the second pass cannot honour (another checkpoint, sampler, scheduler or prompt
for it) are reported in info["warnings"] when set, as every ignored field is.
"""

from __future__ import annotations

import json
from dataclasses import replace

from pixeldrift.pipeline.hires_fix import UPSCALERS, HiresError, HiresFix
from pixeldrift.server.errors import ApiError

DEFAULT_STRENGTH = 0.75   # the webui's txt2img denoising_strength when a client leaves it out (processing.py)
# the webui's upscaler names, lower case -> ours; its "None" resizes the image by Lanczos (images.resize_image)
NAMES = {display.lower(): name for name, (display, _, _) in UPSCALERS.items()} | {"none": "lanczos"}
SR_NAME = UPSCALERS["sr"][0]   # the trained upscaler of `serve --upscaler`, offered only where there is one
ACCEPTED = ", ".join([display for name, (display, _, _) in UPSCALERS.items() if name != "sr"] + ["None"])
FIELDS = {"scale": "hr_scale", "upscaler": "hr_upscaler", "strength": "denoising_strength",
          "steps": "hr_second_pass_steps"}
# second-pass settings pixeldrift does not take, with the values that leave the second pass as the first
UNSUPPORTED = {"hr_checkpoint_name": "", "hr_sampler_name": "sampler_name", "hr_scheduler": "scheduler",
               "hr_prompt": "prompt", "hr_negative_prompt": "negative_prompt"}


def hires_from(body, studio, model: str | None) -> HiresFix | None:
    """The hires fix that enable_hr asks for on txt2img, checked against the model's and server's limits."""
    if not body.enable_hr:
        return None
    upscaler = NAMES.get((body.hr_upscaler or "Latent").strip().lower())
    if upscaler is None or upscaler == "sr" and studio.upscaler is None:
        accepted = ACCEPTED + (f", {SR_NAME}" if studio.upscaler is not None else "")
        why = f" ({SR_NAME}, a trained upscaler, needs pixeldrift serve --upscaler FOLDER)" if upscaler else ""
        raise ApiError(400, f"unknown hr_upscaler {body.hr_upscaler!r}; accepted: {accepted}{why}", "hr_upscaler")
    for name in ("hr_resize_x", "hr_resize_y"):
        if getattr(body, name) < 0:
            raise ApiError(400, f"{name} must be 0 (from the other side and the aspect) or a size in pixels, "
                                f"got {getattr(body, name)}", name)
    steps, limit = body.hr_second_pass_steps, studio.settings.max_steps
    if not 0 <= steps <= limit:
        raise ApiError(400, f"hr_second_pass_steps must be from 0 (the first pass's) to {limit} on this server, "
                            f"got {steps}", "hr_second_pass_steps")
    strength = DEFAULT_STRENGTH if body.denoising_strength is None else body.denoising_strength
    hires = HiresFix(scale=body.hr_scale, upscaler=upscaler, strength=strength, steps=steps,
                     resize_x=body.hr_resize_x, resize_y=body.hr_resize_y,
                     upscaler_model=studio.upscaler if upscaler == "sr" else None)
    _checked(hires, body, studio, model)
    return hires


def _checked(hires: HiresFix, body, studio, model: str | None) -> None:
    """Every hires value, and the final size against the model's and the server's max_side. A first-pass
    size or model that is itself wrong is left for build_job, which names it."""
    try:
        hires.check()
        limits = studio.catalog.resolve(model).model.limits
    except HiresError as error:
        raise ApiError(400, str(error), _field(error, body)) from None
    except ValueError:
        return
    limits = replace(limits, max_side=min(limits.max_side, studio.settings.max_side))
    width = limits.default_width if body.width is None else body.width
    height = limits.default_height if body.height is None else body.height
    if not (limits.accepts_side(width) and limits.accepts_side(height)):
        return
    try:
        hires.target_size(width, height, limits)
    except HiresError as error:
        raise ApiError(400, str(error), _field(error, body)) from None


def _field(error: HiresError, body) -> str:
    if error.field == "resize":
        return "hr_resize_x" if body.hr_resize_x else "hr_resize_y"
    return FIELDS[error.field]


def hires_warnings(body, img2img: bool) -> list[str]:
    """A note for enable_hr on img2img (the webui has no hires fix there) and for each second-pass setting
    that would make the second pass differ from the first."""
    if not body.enable_hr:
        return []
    if img2img:
        return ["enable_hr=true was ignored: the hires fix is for txt2img"]
    extra = body.model_extra or {}
    notes = []
    for name, same_as in UNSUPPORTED.items():
        value = extra.get(name)
        if value in (None, "") or (same_as and value == getattr(body, same_as, None)) \
                or isinstance(value, str) and value.startswith("Use same"):   # the webui's menus' "same" entries
            continue
        shown = json.dumps(value[:60] if isinstance(value, str) else value)[:60]
        notes.append(f"{name}={shown} is not supported by pixeldrift and was ignored (the second pass uses the "
                     "first pass's)")
    return notes
