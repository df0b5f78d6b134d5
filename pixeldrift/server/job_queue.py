"""A bounded job queue for one device, drained by one worker thread: never two generations at once.

A full queue refuses a job at once (QueueFull -> 429 with Retry-After) instead of
letting waiting requests pile up. Finished jobs stay in memory (the most recent
`keep_finished`) for polling; older ones are read back from the gallery's job rows.
"""

from __future__ import annotations

import collections
import math
import threading
import time

from pixeldrift.server.job import CANCELLED, FAILED, QUEUED, Job

STOPPED = "the server is shutting down"
CANCELLED_BY_USER = "cancelled by the user"


class QueueFull(Exception):
    def __init__(self, capacity: int, retry_after: int):
        super().__init__(f"the job queue is full ({capacity} waiting); try again in about {retry_after} s")
        self.retry_after = retry_after


class JobQueue:
    def __init__(self, run, capacity: int, device: str = "cpu", on_change=None, keep_finished: int = 256):
        self.run, self.capacity, self.device = run, capacity, device
        self.on_change = on_change or (lambda job: None)  # persists a job's row
        self.keep_finished = keep_finished
        self.jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self.current: Job | None = None
        self.high_water = 0                  # the most jobs ever waiting at once
        self._pending: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._seconds_per_job = 1.0          # running mean, for Retry-After
        self._thread = threading.Thread(target=self._work, name=f"pixeldrift-worker-{device}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def check_room(self) -> None:
        """QueueFull now if a job could not be queued; lets a busy server refuse before costly checks."""
        with self._cond:
            self._check_room()

    def submit(self, job: Job) -> int:
        """Queue a job; returns how many jobs are ahead of it. QueueFull when there is no room."""
        with self._cond:
            self._check_room()
            self.on_change(job)       # its row exists before the worker can touch it
            self._pending.append(job)
            self.jobs[job.id] = job
            self.high_water = max(self.high_water, len(self._pending))
            self._cond.notify()
            return len(self._pending) - 1 + (self.current is not None)

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self.jobs.get(job_id)

    def recent(self) -> list[Job]:
        """Running, waiting and recently finished jobs, newest first."""
        with self._cond:
            return list(self.jobs.values())[::-1]

    def position(self, job: Job) -> int | None:
        """Jobs ahead of a queued job (0 = next); None when it is not waiting."""
        with self._cond:
            try:
                return self._pending.index(job) + (self.current is not None)
            except ValueError:
                return None

    def counts(self) -> dict:
        with self._cond:
            return {"queued": len(self._pending), "running": int(self.current is not None),
                    "capacity": self.capacity, "device": self.device}

    def cancel(self, job: Job, keep_partial: bool = False) -> None:
        """A waiting job is dropped at once; a running one stops at its next step.

        keep_partial: the running job keeps its current batch as it is (A1111's interrupt),
        so a client that asked for images gets the ones it interrupted.
        """
        with self._cond:
            if job in self._pending:
                self._pending.remove(job)
                job.update(status=CANCELLED, error=CANCELLED_BY_USER, finished=time.time())
                self.on_change(job)
                return
        job.update(cancel_requested=CANCELLED_BY_USER, keep_partial=keep_partial)

    def stop(self, timeout: float = 10.0) -> None:
        """Refuse new jobs, fail the waiting ones, ask the running one to stop, wait for the worker."""
        with self._cond:
            self._stopping = True
            waiting = list(self._pending)
            self._pending.clear()
            if self.current is not None:
                self.current.update(cancel_requested=f"stopped: {STOPPED}")
            self._cond.notify_all()
        for job in waiting:
            job.update(status=FAILED, error=STOPPED, finished=time.time())
            self.on_change(job)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _check_room(self) -> None:
        if self._stopping:
            raise QueueFull(self.capacity, 30)
        if len(self._pending) >= self.capacity:
            raise QueueFull(self.capacity, self._retry_after())

    def _retry_after(self) -> int:
        return max(1, math.ceil(self._seconds_per_job * (len(self._pending) + 1)))

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._pending.popleft()
                self.current = job
            started = time.monotonic()
            if job.status == QUEUED:
                self.run(job)
            with self._cond:
                self.current = None
                self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * (time.monotonic() - started)
                self._forget_old()

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self.jobs.items() if job.is_finished]
        for job_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self.jobs[job_id]
