"""One job: what it asks for, where it stands (status, step i of n, live preview), and waiting on it.

The worker thread changes a job; HTTP handlers on the event loop read it and wait
for its next change without holding a thread each (Job.wait_for_change).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field

from pixeldrift.pipeline import GenerationRequest

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
KINDS = ("txt2img", "img2img", "inpaint", "grid")


class JobCancelled(Exception):
    """Raised inside the sampler callback to stop a job the user cancelled."""


class JobSkipped(Exception):
    """Raised inside the sampler callback to end the batch being made (A1111's skip); the job goes on."""


@dataclass
class Job:
    kind: str
    request: GenerationRequest           # validated: every default filled in
    model_name: str
    iterations: int = 1                  # A1111's n_iter: the batch is made this many times
    grid_axes: tuple[str | None, str | None, str | None] = (None, None, None)
    warnings: list[str] = field(default_factory=list)
    source: str = "api"                  # which API submitted it: api, a1111, openai, ui
    output_size: tuple[int, int] | None = None   # resize every image to this (an OpenAI size the model lacks)
    output_upscaler: object = None       # enlarge by this trained upscaler before resizing (pipeline/upscaler.py)
    plans: tuple = ()                    # plan-then-draw: each image's Plan (pipeline/plan.py), by seed
    adapters: object = None              # the prompt's LoRAs and embeddings, for this job only (adapters.py)
    augmentation: object = None          # the prompt's rewrite (classroom.augment.Augmentation), augment_api.py
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)
    status: str = QUEUED
    step: int = 0
    total_steps: int = 0
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    image_ids: list[str] = field(default_factory=list)
    preview_png: bytes | None = None
    cancel_requested: str | None = None  # why the user (or a shutdown) asked it to stop
    keep_partial: bool = False           # on stopping, keep the images as they are (A1111's interrupt)
    skip_requested: bool = False         # end the current batch, keeping it as it is (A1111's skip)
    version: int = 0                     # bumped on every change, so watchers can tell
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _waiters: set = field(default_factory=set, repr=False)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def update(self, **changes) -> None:
        """Change fields from any thread and wake everyone waiting on this job."""
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)
            self.version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that event loop has closed; its waiter is gone
                pass

    async def wait_for_change(self, seen_version: int, timeout: float) -> int:
        """The version after the next change (or the timeout); returns at once if already newer."""
        loop, event = asyncio.get_running_loop(), asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            if self.version != seen_version:
                return self.version
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self.version

    async def wait_finished(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = -1
        while not self.is_finished:
            left = 30.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return
            seen = await self.wait_for_change(seen, min(left, 30.0))

    def progress(self) -> dict:
        """The JSON the APIs and the progress stream report."""
        fraction = self.step / self.total_steps if self.total_steps else (1.0 if self.status == SUCCEEDED else 0.0)
        return {"id": self.id, "kind": self.kind, "status": self.status, "model": self.model_name,
                "step": self.step, "total_steps": self.total_steps, "progress": round(fraction, 4),
                "unit": "cells" if self.kind == "grid" else "steps",
                "created": self.created, "started": self.started, "finished": self.finished,
                "error": self.error, "warnings": list(self.warnings), "images": list(self.image_ids),
                "has_preview": self.preview_png is not None, "version": self.version,
                "plans": [plan.to_dict() for plan in self.plans],
                "augmentation": None if self.augmentation is None else self.augmentation.to_dict()}
