"""The gallery: labelled PNG files on disk plus one SQLite row per image (WAL mode), crash-safe.

    GALLERY/gallery.sqlite3      rows: settings, seed, model, time, provenance; and the jobs
    GALLERY/images/ID.png        the labelled PNG (watermark, A1111 parameters, AI statement)

Order of writes, so a kill -9 at any moment loses nothing finished:
* adding: the PNG is written atomically first, then its row is committed. A crash
  between the two leaves a file with no row; reopening imports it from its own labels.
* deleting: the file goes first, then the row. A crash between leaves a row with no
  file; reopening drops it (the user had asked to delete it).
* jobs: a job's row says queued/running until it ends; reopening marks those failed.
Image ids are 32 hex digits and are the only part of a path that comes from a request.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from pathlib import Path

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.png_chunks import PngFormatError
from pixeldrift.provenance.record import GenerationRecord

LOG = logging.getLogger("pixeldrift.server")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
INTERRUPTED = "interrupted: the server stopped before this job finished"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, job_id TEXT, created REAL NOT NULL, kind TEXT, prompt TEXT NOT NULL,
    negative_prompt TEXT, model TEXT, sampler TEXT, steps INTEGER, cfg_scale REAL, seed INTEGER,
    width INTEGER, height INTEGER, settings TEXT NOT NULL, provenance TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS images_by_time ON images(created);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT, source TEXT, model TEXT, status TEXT NOT NULL, created REAL,
    started REAL, finished REAL, error TEXT, warnings TEXT, settings TEXT);
"""
_IMAGE_COLUMNS = ("id", "job_id", "created", "kind", "prompt", "negative_prompt", "model", "sampler", "steps",
                  "cfg_scale", "seed", "width", "height", "settings", "provenance")


class Gallery:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.images = self.folder / "images"
        self.images.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "gallery.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")   # a committed row survives a crash of the machine too
        self._db.executescript(_SCHEMA)
        self.recover()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- images -----------------------------------------------------------------------------
    def path_of(self, image_id: str) -> Path:
        """The file of an image id; ValueError for anything that is not an id (no path ever passes)."""
        if not isinstance(image_id, str) or not ID_PATTERN.fullmatch(image_id):
            raise ValueError(f"{image_id!r} is not an image id (32 hex digits)")
        return self.images / f"{image_id}.png"

    def add(self, image_id: str, png: bytes, record: GenerationRecord, *, job_id: str | None, kind: str,
            settings: dict, created: float | None = None) -> dict:
        """Write the labelled PNG, then commit its row; returns the row."""
        write_bytes_atomically(self.path_of(image_id), png)
        row = _row(image_id, record, png, job_id=job_id, kind=kind, settings=settings,
                   created=time.time() if created is None else created)
        with self._lock:
            self._db.execute(f"INSERT INTO images ({', '.join(_IMAGE_COLUMNS)}) VALUES "
                             f"({', '.join('?' * len(_IMAGE_COLUMNS))})", [row[c] for c in _IMAGE_COLUMNS])
        return _decoded(row)

    def get(self, image_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        return None if row is None else _decoded(dict(row))

    def search(self, text: str = "", limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """Newest first; every word of `text` must appear in the prompt (case-insensitive)."""
        where, args = [], []
        for word in text.split():
            where.append("prompt LIKE ? ESCAPE '\\'")
            args.append("%" + re.sub(r"([%_\\])", r"\\\1", word) + "%")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM images {clause}", args).fetchone()[0]
            rows = self._db.execute(f"SELECT * FROM images {clause} ORDER BY created DESC, id LIMIT ? OFFSET ?",
                                    args + [limit, offset]).fetchall()
        return [_decoded(dict(r)) for r in rows], total

    def delete(self, image_id: str) -> bool:
        path = self.path_of(image_id)
        if self.get(image_id) is None:
            return False
        path.unlink(missing_ok=True)
        with self._lock:
            self._db.execute("DELETE FROM images WHERE id = ?", (image_id,))
        return True

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    # --- jobs -------------------------------------------------------------------------------
    def save_job(self, job, settings: dict | None = None) -> None:
        """Insert or update a job's row (settings are written the first time only)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, kind, source, model, status, created, started, finished, error, warnings, "
                "settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "status = excluded.status, started = excluded.started, finished = excluded.finished, "
                "error = excluded.error, warnings = excluded.warnings",
                (job.id, job.kind, job.source, job.model_name, job.status, job.created, job.started, job.finished,
                 job.error, json.dumps(job.warnings), json.dumps(settings or {})))

    def get_job(self, job_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            images = [r[0] for r in self._db.execute(
                "SELECT id FROM images WHERE job_id = ? ORDER BY created, id", (job_id,))]
        job = dict(row)
        job["warnings"] = json.loads(job["warnings"] or "[]")
        job["settings"] = json.loads(job["settings"] or "{}")
        job["images"] = images
        return job

    # --- after a crash ----------------------------------------------------------------------
    def recover(self) -> dict:
        """Make rows and files agree again and fail the jobs a stop interrupted; returns counts."""
        with self._lock:
            failed = self._db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, finished = ? WHERE status IN ('queued', 'running')",
                (INTERRUPTED, time.time())).rowcount
            known = {r[0] for r in self._db.execute("SELECT id FROM images")}
        for leftover in self.images.glob(".*.tmp"):  # half-written by an atomic write that was cut short
            leftover.unlink(missing_ok=True)
        on_disk = {p.stem for p in self.images.glob("*.png") if ID_PATTERN.fullmatch(p.stem)}
        dropped = known - on_disk
        with self._lock:
            self._db.executemany("DELETE FROM images WHERE id = ?", [(i,) for i in dropped])
        imported = sum(self._import_orphan(image_id) for image_id in sorted(on_disk - known))
        counts = {"jobs_failed": failed, "rows_dropped": len(dropped), "files_imported": imported}
        if any(counts.values()):
            LOG.warning("gallery recovered after an unclean stop: %s", counts)
        return counts

    def _import_orphan(self, image_id: str) -> bool:
        path = self.path_of(image_id)
        png = path.read_bytes()
        try:
            labels = read_labels(png)
        except PngFormatError as error:
            LOG.warning("gallery: %s is not a readable PNG (%s); left alone", path, error)
            return False
        if labels.record is None:
            LOG.warning("gallery: %s has no generation record; left alone", path)
            return False
        row = _row(image_id, labels.record, png, job_id=None, kind=None, settings={"recovered": True},
                   created=path.stat().st_mtime)
        with self._lock:
            self._db.execute(f"INSERT OR IGNORE INTO images ({', '.join(_IMAGE_COLUMNS)}) VALUES "
                             f"({', '.join('?' * len(_IMAGE_COLUMNS))})", [row[c] for c in _IMAGE_COLUMNS])
        return True


def _row(image_id: str, record: GenerationRecord, png: bytes, *, job_id, kind, settings: dict,
         created: float) -> dict:
    labels = read_labels(png)
    provenance = {"label": labels.label, "parameters": labels.parameters, "ai_generated": labels.ai_generated}
    return {"id": image_id, "job_id": job_id, "created": created, "kind": kind, "prompt": record.prompt,
            "negative_prompt": record.negative_prompt, "model": record.model, "sampler": record.sampler,
            "steps": record.steps, "cfg_scale": float(record.cfg_scale), "seed": record.seed,
            "width": record.width, "height": record.height,
            "settings": json.dumps({"record": record.to_dict(), **settings}, sort_keys=True),
            "provenance": json.dumps(provenance, sort_keys=True)}


def _decoded(row: dict) -> dict:
    return {**row, "settings": json.loads(row["settings"]), "provenance": json.loads(row["provenance"])}
