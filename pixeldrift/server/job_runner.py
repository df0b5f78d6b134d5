"""What the worker does with one job: generate with progress and previews, save every image.

Each image is saved to the gallery as soon as its batch is made, so a crash later in a
job keeps the images already finished.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace

from pixeldrift.provenance.label import labelled_png_bytes
from pixeldrift.safety.moderation import PromptRefused
from pixeldrift.server.gallery import Gallery
from pixeldrift.server.job import CANCELLED, FAILED, RUNNING, SUCCEEDED, Job, JobCancelled
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
            if job.kind == "grid":
                self._run_grid(job)
            else:
                self._run_batches(job)
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

    def _run_batches(self, job: Job) -> None:
        model = self.catalog.resolve(job.model_name).model
        per_run = steps_per_run(job.request)
        for k in range(job.iterations):  # A1111's n_iter: seeds continue where the last batch ended
            r = job.request
            offset = k * r.batch_size
            request = replace(r, seed=r.seed + offset, variation_seed=None if r.variation_seed is None
                              else r.variation_seed + offset)
            callback = self._progress(job, model, request, k * per_run)
            for result in model.generate(request, callback=callback, model_name=job.model_name):
                self._save(job, result.image, result.record)

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

    def _progress(self, job: Job, model, request, done_before: int):
        """The sampler callback: progress, cancellation, and a preview at most every preview_interval_s."""
        last_preview = [0.0]
        record = model.record(request, request.seed, job.model_name)

        def callback(i, x, denoised):
            if job.cancel_requested:
                raise JobCancelled()
            step = done_before + i + 1
            now = time.monotonic()
            changes = {"step": min(step, job.total_steps) if job.total_steps else step}
            if now - last_preview[0] >= self.settings.preview_interval_s:
                last_preview[0] = now
                image = model.to_images(denoised[:1])[0]
                preview = replace(record, extra={**record.extra, "Preview": f"step {step} of {job.total_steps}"})
                changes["preview_png"] = labelled_png_bytes(image, preview, watermark=self.settings.watermark)
            job.update(**changes)
        return callback

    def _save(self, job: Job, image, record) -> None:
        image_id = uuid.uuid4().hex
        png = labelled_png_bytes(image, record, watermark=self.settings.watermark)
        self.gallery.add(image_id, png, record, job_id=job.id, kind=job.kind, settings=request_settings(job))
        job.update(image_ids=job.image_ids + [image_id])
