"""The studio's shared state, one per app: settings, models, gallery, the job queue and the video model.

Routes reach it with `Depends(get_studio)`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from fastapi import Request

from pixeldrift.server.adapters import AdapterCatalog
from pixeldrift.server.control_catalog import ControlCatalog
from pixeldrift.server.errors import ApiError
from pixeldrift.server.gallery import ID_PATTERN, Gallery
from pixeldrift.server.job import CANCELLED, SUCCEEDED, Job
from pixeldrift.server.job_queue import JobQueue, QueueFull
from pixeldrift.server.job_request import request_settings
from pixeldrift.server.model_catalog import ModelCatalog
from pixeldrift.server.settings import ServerSettings


@dataclass
class Studio:
    settings: ServerSettings
    catalog: ModelCatalog
    gallery: Gallery
    queue: JobQueue
    controls: ControlCatalog = field(default_factory=ControlCatalog)  # ControlNets, for the A1111 API's units
    adapters: AdapterCatalog = field(default_factory=AdapterCatalog)  # LoRAs and embeddings prompts may use
    video: object = None   # the video model and its clips (video_api.ServedVideo); None on a server without one
    upscaler: object = None  # the trained upscaler (pipeline/upscaler.Upscaler) of serve --upscaler; None without one

    def check_room(self) -> None:
        """ApiError 429 at once when the queue is full: called before uploads are decoded and prompts checked."""
        self._queued(self.queue.check_room)

    def submit(self, job: Job) -> int:
        """Queue a job (its row written first); ApiError 429 with Retry-After when the queue is full."""
        return self._queued(lambda: self.queue.submit(job))

    async def run_to_end(self, job: Job, cancelled: str, failed: str) -> None:
        """Queue a job and wait for its end: ApiError 409 when it was cancelled, 500 when it failed."""
        self.submit(job)
        await job.wait_finished()
        if job.status == CANCELLED:
            raise ApiError(409, f"{cancelled}: {job.error}")
        if job.status != SUCCEEDED:
            raise ApiError(500, job.error or failed)

    @staticmethod
    def _queued(action):
        try:
            return action()
        except QueueFull as full:
            raise ApiError(429, str(full), headers={"Retry-After": str(full.retry_after)}) from None

    def job(self, job_id: str) -> Job:
        """A live job; 404 when it is unknown or only in the gallery's records."""
        return _found(self.queue.get, job_id, f"no running or recent job {job_id!r}", "job_id")

    def job_view(self, job_id: str) -> dict:
        """A job's progress JSON, from memory or, for old and interrupted jobs, from its row."""
        job = self.queue.get(job_id)
        if job is not None:
            return {**job.progress(), "position": self.queue.position(job)}
        row = _found(self.gallery.get_job, job_id, f"no job {job_id!r}", "job_id")
        return {"id": row["id"], "kind": row["kind"], "status": row["status"], "model": row["model"],
                "step": None, "total_steps": None, "progress": 1.0 if row["status"] == "succeeded" else 0.0,
                "created": row["created"], "started": row["started"], "finished": row["finished"],
                "error": row["error"], "warnings": row["warnings"], "images": row["images"],
                "has_preview": False, "position": None}

    def image_row(self, image_id: str) -> dict:
        return _found(self.gallery.get, image_id, f"no image {image_id!r} in the gallery", "image_id")

    def image_base64(self, image_id: str) -> str:
        return base64.b64encode(self.gallery.path_of(image_id).read_bytes()).decode("ascii")

    def save_job(self, job: Job) -> None:
        self.gallery.save_job(job, request_settings(job))


def _found(lookup, key: str, missing: str, param: str):
    """lookup(key) for a well-formed id; ApiError 404 for anything else."""
    found = lookup(key) if ID_PATTERN.fullmatch(key) else None
    if found is None:
        raise ApiError(404, missing, param)
    return found


def get_studio(request: Request) -> Studio:
    return request.app.state.studio
