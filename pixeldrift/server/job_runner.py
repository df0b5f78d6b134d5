"""What the worker does with one job: generate with progress and previews, save every image.

Each image is saved to the gallery as soon as its batch is made, so a crash later in a
job keeps the images already finished.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace

from PIL import Image

from pixeldrift.provenance.label import labelled_png_bytes
from pixeldrift.safety.moderation import PromptRefused
from pixeldrift.server.adapters import adapters_applied
from pixeldrift.server.gallery import Gallery
from pixeldrift.server.job import CANCELLED, FAILED, RUNNING, SUCCEEDED, Job, JobCancelled, JobSkipped
from pixeldrift.server.job_plan import plan_of
from pixeldrift.server.job_request import parse_axes, request_settings, steps_per_run
from pixeldrift.server.model_catalog import ModelCatalog
from pixeldrift.server.settings import ServerSettings

LOG = logging.getLogger("pixeldrift.server")


class JobRunner:
    def __init__(self, catalog: ModelCatalog, gallery: Gallery, settings: ServerSettings):
        self.catalog, self.gallery, self.settings = catalog, gallery, settings

    def __call__(self, job: Job) -> None:
        """Run a job to its end; never raises (the outcome is in job.status and job.error)."""
        job.update(status=RUNNING, started=time.time(), step=0)
        self.gallery.save_job(job)
        try:
            self.work(job)
            outcome = {"status": SUCCEEDED}
        except JobCancelled:
            outcome = {"status": CANCELLED, "error": job.cancel_requested}
        except PromptRefused as refusal:
            outcome = {"status": FAILED, "error": str(refusal)}
        except (ValueError, RuntimeError, MemoryError) as error:
            outcome = {"status": FAILED, "error": f"generation failed: {error}"}
        except Exception as error:  # the worker must survive anything a job does
            LOG.exception("job %s failed", job.id)
            outcome = {"status": FAILED, "error": f"internal error ({type(error).__name__}): {error}"}
        job.update(finished=time.time(), preview_png=None, **outcome)
        self.gallery.save_job(job)

    def work(self, job: Job) -> None:
        """The job's own work, in the job's status handling above; a subclass may take other kinds of job
        (video_api.py's clips), so that they share this one worker."""
        with adapters_applied(self.catalog.resolve(job.model_name).model, job.adapters):
            if job.kind == "grid":
                self._run_grid(job)
            else:
                self._run_batches(job)

    def _run_batches(self, job: Job) -> None:
        model = self.catalog.resolve(job.model_name).model
        per_run = steps_per_run(job.request)
        for k in range(job.iterations):  # A1111's n_iter: seeds continue where the last batch ended
            r = job.request
            offset = k * r.batch_size
            request = replace(r, seed=r.seed + offset, variation_seed=None if r.variation_seed is None
                              else r.variation_seed + offset)
            watcher = StepWatcher(job, model, request, k * per_run, self.settings)
            try:
                # build_job moderated the prompt before queueing: generate() need not again
                for result in model.generate(request, callback=watcher, model_name=job.model_name, moderated=True):
                    self._save(job, result.image, result.record)
            except (JobCancelled, JobSkipped) as stop:
                self._stopped(job, model, watcher, stop)

    def _stopped(self, job: Job, model, watcher: "StepWatcher", stop: Exception) -> None:
        """A1111's interrupt and skip keep the batch as it is; a cancel keeps nothing. Skip goes on."""
        if watcher.latest is not None and (job.keep_partial or isinstance(stop, JobSkipped)):
            r = watcher.request
            for i, image in enumerate(model.to_images(watcher.latest)):
                record = model.record(r, r.seed + i, job.model_name)
                note = f"at step {watcher.step} of {steps_per_run(r)}"
                self._save(job, image, replace(record, extra={**record.extra, "Interrupted": note}))
        if isinstance(stop, JobCancelled):
            raise stop
        job.update(skip_requested=False)

    def _run_grid(self, job: Job) -> None:
        """An X/Y/Z grid: progress counts cells (the grid reports after each), one gallery image per sheet."""
        from pixeldrift.pipeline.grid import run_grid

        model = self.catalog.resolve(job.model_name).model

        def cell_done(done: int, total: int) -> None:
            job.update(step=done, total_steps=total)
            if job.cancel_requested:
                raise JobCancelled()
        for sheet in run_grid(model, job.request, *parse_axes(job.grid_axes), callback=cell_done):
            self._save(job, sheet.image, sheet.record)

    def _save(self, job: Job, image, record) -> None:
        if job.output_size is not None and image.size != job.output_size:
            image, record = resized(image, record, job.output_size, job.output_upscaler)
        if job.adapters is not None:  # the prompt as written, its <lora:...> tags kept, and the files' hashes
            record = job.adapters.recorded(record)
        settings, plan = request_settings(job), plan_of(job, record.seed)
        if plan is not None:  # plan-then-draw: the image's own plan, in its row and its PNG parameters
            settings["plan"] = plan.to_dict()
            record = replace(record, extra={**record.extra, "Plan": plan.describe()})
        if job.augmentation is not None:  # the user's own prompt and the rewrite's choices, as generate --augment
            settings["augmentation"] = job.augmentation.to_dict()
            record = replace(record, extra={**record.extra, **job.augmentation.labels()})
        image_id = uuid.uuid4().hex
        png = labelled_png_bytes(image, record, watermark=self.settings.watermark)
        self.gallery.add(image_id, png, record, job_id=job.id, kind=job.kind, settings=settings)
        job.update(image_ids=job.image_ids + [image_id])


def resized(image: Image.Image, record, size: tuple[int, int], upscaler=None):
    """The image at the size a client asked for, enlarged by `upscaler` (a trained one, from the image's seed) first
    when given; the record keeps the size drawn and says how it changed."""
    note = f"{size[0]}x{size[1]} from {image.width}x{image.height}"
    if upscaler is not None:
        image = upscaler.upscale_images([image], [record.seed])[0]
        note += f" by the upscaler {upscaler.name} to {image.width}x{image.height}"
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
        note += " then by Lanczos" if upscaler is not None else " by Lanczos"
    return image, replace(record, extra={**record.extra, "Resized to": note})


class StepWatcher:
    """The sampler callback: progress, cancel and skip, a preview at most every preview_interval_s,
    and the latest denoised estimate, which is the batch "as it is" when a job is interrupted."""

    def __init__(self, job: Job, model, request, done_before: int, settings: ServerSettings):
        self.job, self.model, self.request, self.done_before, self.settings = job, model, request, done_before, settings
        self.record = model.record(request, request.seed, job.model_name)
        self.latest, self.step, self.last_preview = None, 0, 0.0

    def __call__(self, i, x, denoised) -> None:
        job = self.job
        if job.cancel_requested:
            raise JobCancelled()
        if job.skip_requested:
            raise JobSkipped()
        self.latest, self.step = denoised, i + 1
        step = self.done_before + i + 1
        changes = {"step": min(step, job.total_steps) if job.total_steps else step}
        now = time.monotonic()
        if now - self.last_preview >= self.settings.preview_interval_s:
            self.last_preview = now
            image = self.model.to_images(denoised[:1])[0]
            preview = replace(self.record, extra={**self.record.extra, "Preview": f"step {step} of {job.total_steps}"})
            changes["preview_png"] = labelled_png_bytes(image, preview, watermark=self.settings.watermark)
        job.update(**changes)
