"""The training log: OUT/log.csv always, and TensorBoard event files when tensorboard is installed."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

COLUMNS = ("step", "loss", "lr", "images_per_s", "skipped_steps")


class TrainingLog:
    """One row per logged step. A resumed run appends to the CSV; a fresh run starts it anew."""

    def __init__(self, out_dir: Path, step: int, tensorboard: bool = True):
        """`step`: where the run starts (0 when fresh); a resumed run's log is cut back to it."""
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "log.csv"
        fresh = step == 0 or not path.exists()
        board = out_dir / "tensorboard"
        if fresh:
            shutil.rmtree(board, ignore_errors=True)  # an earlier run's events would mix with this one's
        self._board = _summary_writer(board, step) if tensorboard else None
        if not fresh:
            _cut_back(path, step)
        self._handle = open(path, "w" if fresh else "a", newline="", buffering=1)  # noqa: SIM115 - lives with the run
        self._csv = csv.writer(self._handle)
        if fresh:
            self._csv.writerow(COLUMNS)

    def write(self, step: int, loss: float, lr: float, images_per_s: float, skipped_steps: int) -> None:
        self._csv.writerow([step, f"{loss:.6f}", f"{lr:.3e}", f"{images_per_s:.1f}", skipped_steps])
        if self._board is not None:
            for name, value in zip(COLUMNS[1:], (loss, lr, images_per_s, skipped_steps)):
                self._board.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        self._handle.close()
        if self._board is not None:
            self._board.close()


def _summary_writer(folder: Path, step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
    except ImportError:
        return None
    # purge_step: events past the checkpoint a run resumes from were logged by the interrupted run
    return SummaryWriter(log_dir=str(folder), purge_step=step or None)


def _cut_back(path: Path, step: int) -> None:
    """Drop the rows an interrupted run logged after the checkpoint it resumes from."""
    header, *rows = path.read_text().splitlines(keepends=True)
    kept = [row for row in rows if row.split(",", 1)[0].isdigit() and int(row.split(",", 1)[0]) <= step]
    if len(kept) < len(rows):  # written beside, then swapped in: an interruption leaves the old log whole
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(header + "".join(kept))
        os.replace(staging, path)
