"""From API fields to a checked job: model, sampler names, seed, server limits, moderation.

All three APIs call build_job(); whatever is wrong comes back as an ApiError (400)
naming the field, before anything is queued. Every text field is bounded before any
work is done on it: the request models use the Annotated types below, and build_job
checks the prompts' lengths again before moderation reads them.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, replace
from typing import Annotated

from PIL import Image
from pydantic import Field

from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pipeline.request import MAX_PROMPT_CHARS
from pixeldrift.pipeline.hires_fix import steps_run
from pixeldrift.safety.moderation import PromptRefused, enforce_prompt
from pixeldrift.server.a1111_names import resolve_sampler
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import KINDS, Job
from pixeldrift.server.model_catalog import ModelCatalog
from pixeldrift.server.settings import ServerSettings

MAX_SEED = 2**63 - 1
MAX_NAME_CHARS = 200       # a model, sampler, schedule or option name
MAX_AXIS_CHARS = 1000      # one grid axis, e.g. "steps=5,10,20"
MAX_EXTRA_FIELDS = 100     # fields a lenient API (A1111, OpenAI) accepts without knowing them
Prompt = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]


def random_seed() -> int:
    return secrets.randbelow(2**32)


def build_job(settings: ServerSettings, catalog: ModelCatalog, *, kind: str, model: str | None = None,
              sampler: str | None = None, schedule: str | None = None, seed: int | None = None,
              iterations: int = 1, warnings: list[str] | None = None, source: str = "api",
              grid_axes=(None, None, None), **fields) -> Job:
    """A queued-to-be Job; `fields` are GenerationRequest's (prompt, steps, init_image, ...)."""
    if kind not in KINDS:
        raise ApiError(400, f"unknown job kind {kind!r}; accepted: {', '.join(KINDS)}", "kind")
    entry = _checked(lambda: catalog.resolve(model), "model")
    sampler, schedule = _checked(lambda: resolve_sampler(sampler, schedule), "sampler")
    seed = _seed(seed, "seed")
    if fields.get("variation_seed") is not None:
        fields["variation_seed"] = _seed(fields["variation_seed"], "variation_seed")
    _check_kind(kind, fields)
    _check_limits(settings, fields, iterations)
    _check_text(fields)
    _moderate(fields.get("prompt"))
    limits = replace(entry.model.limits, max_side=min(entry.model.limits.max_side, settings.max_side))
    request = _checked(lambda: GenerationRequest(sampler=sampler, schedule=schedule, seed=seed, **fields)
                       .validated(entry.model.sampling_defaults, limits), None)
    _checked(lambda: entry.model.sigmas(request.schedule, 1), "schedule")  # e.g. a schedule this model lacks
    job = Job(kind=kind, request=request, model_name=entry.name, iterations=iterations,
              warnings=list(warnings or []), source=source, grid_axes=tuple(grid_axes))
    job.total_steps = steps_per_run(request) * iterations
    return job


def parse_axes(texts) -> list:
    """The grid's axes from their texts ("steps=5,10,20"); None stays None."""
    from pixeldrift.pipeline.grid import parse_axis

    return [None if text is None else parse_axis(text) for text in texts]


def check_grid(settings: ServerSettings, catalog: ModelCatalog, job: Job) -> None:
    """Plan every cell now, so a bad axis or a cell over the server's limits is a 400, not a failed job."""
    from pixeldrift.pipeline.grid import plan

    model = catalog.resolve(job.model_name).model
    axes = _checked(lambda: parse_axes(job.grid_axes), "x_axis")
    if not any(axes):
        raise ApiError(400, 'a grid job needs at least one axis, e.g. x_axis: "steps=5,10,20"', "x_axis")
    cells = [cell for sheet in _checked(lambda: plan(job.request, *axes, model), "x_axis")
             for row in sheet for cell in row]
    if len(cells) > settings.max_grid_cells:
        raise ApiError(400, f"the grid has {len(cells)} cells; at most {settings.max_grid_cells} on this server",
                       "x_axis")
    for cell in cells:
        if cell.steps > settings.max_steps or max(cell.width, cell.height) > settings.max_side:
            raise ApiError(400, f"a grid cell asks for {cell.steps} steps at {cell.width}x{cell.height}; this "
                                f"server allows {settings.max_steps} steps and {settings.max_side} pixels a side",
                           "x_axis")
    job.total_steps = len(cells)


def steps_per_run(r: GenerationRequest) -> int:
    """Sampler steps one generate() call reports: image-to-image runs only the last ones, a hires fix two passes."""
    return steps_run(r)


def request_settings(job: Job) -> dict:
    """The job's settings as JSON (images left out), for gallery rows and `reuse settings`."""
    r = job.request
    hires = None if r.hires is None else replace(r.hires, upscaler_model=None)  # a network: its name instead
    plain = {k: v for k, v in asdict(replace(r, init_image=None, mask=None, controls=(), hires=hires)).items()
             if k not in ("init_image", "mask", "controls")}
    if hires is not None:
        plain["hires"]["upscaler_model"] = getattr(r.hires.upscaler_model, "name", None)
    if job.adapters is not None:
        plain["prompt"] = job.adapters.prompt  # as written: the <lora:...> tags the model did not read kept
    controls = [{"model": c.model.name, "module": c.module or c.model.kind or "none", "weight": c.strength,
                 "guidance_start": c.start, "guidance_end": c.end} for c in r.controls]
    return {"kind": job.kind, "model": job.model_name, "iterations": job.iterations, **plain, "controls": controls,
            "has_init_image": r.init_image is not None, "has_mask": r.mask is not None,
            "grid_axes": [a for a in job.grid_axes], "warnings": list(job.warnings), "source": job.source}


def _checked(make, param: str | None):
    try:
        return make()
    except ValueError as error:
        raise ApiError(400, str(error), param) from None


def _seed(seed, name: str) -> int:
    if seed is None or seed == -1:  # -1: "random", as in AUTOMATIC1111
        return random_seed()
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise ApiError(400, f"{name} must be an integer from 0 to {MAX_SEED}, or -1 for a random one; "
                            f"got {seed!r}", name)
    return seed


def _check_kind(kind: str, fields: dict) -> None:
    has_image, has_mask = fields.get("init_image") is not None, fields.get("mask") is not None
    if kind in ("img2img", "inpaint") and not has_image:
        raise ApiError(400, f"a {kind} job needs an init image", "init_image")
    if kind == "inpaint" and not has_mask:
        raise ApiError(400, "an inpaint job needs a mask (white = repaint)", "mask")
    if kind in ("txt2img", "grid") and (has_image or has_mask):
        raise ApiError(400, f"a {kind} job takes no init image or mask; use img2img or inpaint", "init_image")
    for name in ("init_image", "mask"):
        if fields.get(name) is not None and not isinstance(fields[name], Image.Image):
            raise ApiError(400, f"{name} must be an image", name)


def _check_limits(settings: ServerSettings, fields: dict, iterations: int) -> None:
    steps = fields.get("steps")
    if steps is not None and (type(steps) is not int or not 1 <= steps <= settings.max_steps):
        # checked here too: GenerationRequest takes steps=0 for "the default"
        raise ApiError(400, f"steps must be an integer from 1 to {settings.max_steps} on this server, "
                            f"got {steps!r}", "steps")
    batch = fields.get("batch_size", 1)
    if type(iterations) is not int or iterations < 1:
        raise ApiError(400, f"the number of iterations must be a positive integer, got {iterations!r}", "n_iter")
    if isinstance(batch, int) and batch * iterations > settings.max_images:
        raise ApiError(400, f"at most {settings.max_images} images per request on this server; "
                            f"asked for {batch} x {iterations}", "batch_size")


def _check_text(fields: dict) -> None:
    """Prompt lengths, before moderation or the text encoder spend time on them."""
    for name in ("prompt", "negative_prompt"):
        text = fields.get(name)
        if isinstance(text, str) and len(text) > MAX_PROMPT_CHARS:
            raise ApiError(400, f"{name} is {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted", name)


def check_extra_count(extra: dict) -> None:
    """A bound on unknown fields, each of which costs a warning."""
    if len(extra) > MAX_EXTRA_FIELDS:
        raise ApiError(400, f"{len(extra)} unknown fields were sent; at most {MAX_EXTRA_FIELDS} are accepted",
                       next(iter(extra)))


def _moderate(prompt) -> None:
    if not isinstance(prompt, str):
        return  # GenerationRequest.validated names the type problem
    try:
        enforce_prompt(prompt)
    except PromptRefused as refusal:
        raise ApiError(400, str(refusal), "prompt", code="prompt_refused") from None
