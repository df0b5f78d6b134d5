"""The training log: OUT/log.csv always, and TensorBoard event files when tensorboard is installed."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ("step", "loss", "lr", "images_per_s", "skipped_steps")


class TrainingLog:
    """One row per logged step. A resumed run appends to the CSV; a fresh run starts it anew."""

    def __init__(self, out_dir: Path, fresh: bool, tensorboard: bool = True):
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "log.csv"
        fresh = fresh or not path.exists()
        self._handle = open(path, "w" if fresh else "a", newline="", buffering=1)  # noqa: SIM115 - lives with the run
        self._csv = csv.writer(self._handle)
        if fresh:
            self._csv.writerow(COLUMNS)
        self._board = _summary_writer(out_dir / "tensorboard") if tensorboard else None

    def write(self, step: int, loss: float, lr: float, images_per_s: float, skipped_steps: int) -> None:
        self._csv.writerow([step, f"{loss:.6f}", f"{lr:.3e}", f"{images_per_s:.1f}", skipped_steps])
        if self._board is not None:
            for name, value in (("loss", loss), ("lr", lr), ("images_per_s", images_per_s),
                                ("skipped_steps", skipped_steps)):
                self._board.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        self._handle.close()
        if self._board is not None:
            self._board.close()


def _summary_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))
