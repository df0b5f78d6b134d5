"""The bias audit in the studio (page: /static/audit.html), computed as `pixeldrift audit` computes it.

    GET  /api/audit                  the prompts the audit names, the limits and defaults
    POST /api/audit                  {prompt, seeds, seed?, steps?, model?, reference_n?} -> 202 + the job
    GET  /api/audit/{id}             {job: its progress, report: null until it succeeded, then the CLI's report
                                     (each attribute's counts and figures: outputs vs training data vs uniform,
                                     the amplification) with its markdown table}
    GET  /api/audit/{id}/chart.png   the CLI's chart; outputs.png: the images read, as one labelled sheet

An audit is one more job in the device's queue, run by the one worker (AuditRunner), so it never draws
beside an image job or a clip; progress and cancel are at /api/jobs/{id}. Every field is checked before
it is queued, a bad one a 4xx naming it. The statistics are classroom/audit.py's and audit_stats.py's;
the training data is the world stream's (a folder named by a request is never read). Reports live with
their jobs, in memory: the most recent jobs' (job_queue.py), gone when the server stops.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.classroom.audit import (DEFAULT_PROMPTS, NAMED_PROMPTS, AuditPrompt, audit_prompt, compare,
                                        model_sample, world_reference)
from pixeldrift.classroom.audit_report import chart, json_rows, table, title, unread
from pixeldrift.classroom.audit_stats import SKEW_ALPHA, AuditError
from pixeldrift.pipeline.contact_sheet import contact_sheet
from pixeldrift.provenance.label import labelled_png_bytes
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import Job, JobCancelled
from pixeldrift.server.job_request import Name, Prompt, build_job
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.server.video_api import ClipRunner

router = APIRouter(prefix="/api/audit", tags=["classroom"])
SIZE = 64                       # the world's readers read the outputs and the training renders at this size
MIN_SEEDS, MAX_SEEDS, DEFAULT_SEEDS = 4, 32, 16
MIN_REFERENCE, MAX_REFERENCE, DEFAULT_REFERENCE = 20, 2000, 400   # training images read (the CLI's default)
PICTURES = {"chart": "chart_png", "outputs": "outputs_png"}


class AuditBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: Prompt = Field(description=f"{', '.join(NAMED_PROMPTS)}, or one group of objects such as 'three stars'")
    seeds: int = Field(DEFAULT_SEEDS, ge=MIN_SEEDS, le=MAX_SEEDS, description="images drawn: seeds seed .. "
                                                                              "seed + seeds - 1")
    seed: int = Field(0, ge=0, le=2**31, description="the first seed; also draws the training images")
    steps: int | None = Field(None, description="sampling steps; None: the model's default")
    model: Name | None = None
    reference_n: int = Field(DEFAULT_REFERENCE, ge=MIN_REFERENCE, le=MAX_REFERENCE,
                             description="training images (renders of the world stream's matching scenes) read")


@dataclass
class AuditJob(Job):
    """An audit in the job queue: its request (prompt, first seed, steps) checked as an image job's is."""

    audit: AuditPrompt | None = None
    samples: int = DEFAULT_SEEDS
    reference_n: int = DEFAULT_REFERENCE
    phase: str = "waiting"      # then "training data", "drawing", "comparing", "done"
    report: dict | None = None
    chart_png: bytes | None = None
    outputs_png: bytes | None = None

    def progress(self) -> dict:
        return {**super().progress(), "phase": self.phase}


class AuditRunner(ClipRunner):
    """The worker's runner: image jobs and clips as before, and audits, one job at a time on the one worker."""

    def work(self, job: Job) -> None:
        if isinstance(job, AuditJob):
            run_audit(job, self.catalog.resolve(job.model_name).model, self.settings.watermark)
        else:
            super().work(job)


def run_audit(job: AuditJob, model, watermark: bool) -> None:
    """The training data matching the prompt, the model's images of it, each attribute compared; the report,
    the chart and the sheet of outputs kept on the job."""
    r, prompt, drawn = job.request, job.audit, []

    def check() -> None:
        if job.cancel_requested:
            raise JobCancelled()

    def step(i, x, denoised) -> None:
        check()
        job.update(step=i + 1)

    def generate(prompts: list[str], seeds: list[int]):
        images = model.sample(prompts, seeds, r, callback=step, moderated=True)  # build_job moderated the prompt
        drawn.extend(images)
        return images
    job.update(phase="training data")
    data = world_reference(prompt, job.reference_n, r.seed, SIZE, tick=check)
    job.update(phase="drawing")
    outputs = model_sample(generate, prompt, job.samples, r.seed, batch_size=MAX_SEEDS)
    job.update(phase="comparing")
    rows = [(prompt.prompt, a) for a in compare(prompt, outputs, data)]
    heading = title(job.model_name, job.samples, "world", job.reference_n)
    record = model.record(r, r.seed, job.model_name)
    seeds = f"{job.samples} images, seeds {r.seed} to {r.seed + job.samples - 1}"
    record = replace(record, extra={**record.extra, "Grid": f"{job.samples} images", "Bias audit": seeds})
    url = f"/api/audit/{job.id}"
    report = {"prompt": prompt.prompt, "model": job.model_name, "reference": "world", "samples": job.samples,
              "reference_n": job.reference_n, "seed": r.seed, "steps": r.steps,
              "unreadable": {prompt.prompt: unread(outputs, data)}, "audits": json_rows(rows), "title": heading,
              "table": table(rows), "skew_alpha": SKEW_ALPHA, "chart_url": f"{url}/chart.png" if rows else None,
              "outputs_url": f"{url}/outputs.png"}
    job.update(phase="done", report=report, chart_png=chart(rows, heading) if rows else None,
               outputs_png=labelled_png_bytes(contact_sheet(drawn, columns=min(8, len(drawn))), record,
                                                watermark=watermark))


def audit_job(body: AuditBody, studio: Studio) -> AuditJob:
    """The checked job; every bad field an ApiError naming it."""
    try:
        audited = audit_prompt(body.prompt)
        entry = studio.catalog.resolve(body.model)
    except AuditError as error:
        raise ApiError(400, f"prompt: {error}", "prompt") from None
    except ValueError as error:
        raise ApiError(400, str(error), "model") from None
    if not entry.model.limits.accepts_side(SIZE):
        raise ApiError(400, f"model {entry.name!r} cannot draw the {SIZE}x{SIZE} pictures the world's readers read",
                       "model")
    checked = build_job(studio.settings, studio.catalog, kind="txt2img", model=entry.name, seed=body.seed,
                        prompt=audited.prompt, steps=body.steps, width=SIZE, height=SIZE)
    return AuditJob(kind="audit", request=checked.request, model_name=checked.model_name, source="api",
                    total_steps=checked.total_steps, audit=audited, samples=body.seeds, reference_n=body.reference_n)


@router.get("")
def audit_info(studio: Studio = Depends(get_studio)) -> dict:
    """What the audit page offers: the named prompts and what each leaves open, the limits, the models."""
    prompts = [{"prompt": p.prompt, "kind": p.kind, "attributes": list(p.attributes)} for p in NAMED_PROMPTS.values()]
    models = [e.name for e in studio.catalog.entries.values() if e.model.limits.accepts_side(SIZE)]
    return {"prompts": prompts, "default_prompts": list(DEFAULT_PROMPTS), "models": models,
            "default_model": studio.catalog.default_name, "reference": "world", "size": SIZE,
            "seeds": {"min": MIN_SEEDS, "max": MAX_SEEDS, "default": DEFAULT_SEEDS},
            "reference_n": {"min": MIN_REFERENCE, "max": MAX_REFERENCE, "default": DEFAULT_REFERENCE}}


@router.post("", status_code=202)
def start_audit(body: AuditBody, response: Response, studio: Studio = Depends(get_studio)) -> dict:
    studio.check_room()
    job = audit_job(body, studio)
    studio.submit(job)
    response.headers["Location"] = f"/api/audit/{job.id}"
    return studio.job_view(job.id)


@router.get("/{job_id}")
def audit_report(job_id: str, studio: Studio = Depends(get_studio)) -> dict:
    job = _audit(studio, job_id)
    return {"job": studio.job_view(job_id), "report": job.report}


@router.get("/{job_id}/{name}.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def audit_picture(job_id: str, name: str, studio: Studio = Depends(get_studio)) -> Response:
    png = getattr(_audit(studio, job_id), PICTURES[name], None) if name in PICTURES else None
    if png is None:
        raise ApiError(404, f"no {name}.png for audit {job_id!r}: it has not finished, read nothing, or "
                            f"there is no such picture (chart.png, outputs.png)", "name")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _audit(studio: Studio, job_id: str) -> AuditJob:
    job = studio.queue.get(job_id) if len(job_id) <= 64 else None
    if not isinstance(job, AuditJob):
        raise ApiError(404, f"no audit {job_id!r} on this server (reports are kept, in memory, for the most "
                            "recent jobs)", "job_id")
    return job
