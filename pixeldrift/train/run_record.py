"""OUT/<name>.json: what a run was started with, so a resume with other settings is refused, not mixed."""

from __future__ import annotations

import json
from pathlib import Path

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import read_json_object


def keep_run_record(path: Path, run: dict, resume: bool, writer: bool = True) -> None:
    """Write `run` to `path` on a fresh start (by the writing process only); on a resume, ValueError naming
    every setting that differs from the recorded one."""
    if resume and path.is_file():
        before = read_json_object(path)
        changed = [f"{key}: {str(before.get(key))[:60]} then, {str(value)[:60]} now"
                   for key, value in run.items() if before.get(key) != value]
        if changed:
            raise ValueError(f"{path}: this run was started with other settings ({'; '.join(changed)}); resume "
                             "with the same ones, or start a new run in another folder")
    elif writer:
        write_bytes_atomically(path, (json.dumps(run, indent=1) + "\n").encode(), make_parents=True)
