"""The GPU recipe's one command, run tiny on the CPU: it trains, exports a model folder and scores it."""

import os
from pathlib import Path
import subprocess
import sys

import pytest

from pixeldrift.pipeline.model_folder import load_model

ROOT = Path(__file__).resolve().parents[2]


def _run_tiny(script: str, out) -> None:
    """A GPU recipe with PIXELDRIFT_GPU_SMOKE=1: its CPU-sized run into `out`."""
    env = {**os.environ, "PIXELDRIFT_GPU_SMOKE": "1", "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "scripts" / script), str(out)], check=True, env=env, capture_output=True,
                   timeout=900)


@pytest.mark.slow
def test_the_gpu_script_runs_tiny_on_a_cpu(tmp_path):
    _run_tiny("train_gpu.sh", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.md", "log.csv", "model", "times.txt"]
    model = load_model(tmp_path / "model")
    assert model.config.vae is not None and "overall" in (tmp_path / "compose.md").read_text()
    assert (tmp_path / "log.csv").read_text().splitlines()[-1].startswith("3,")  # the last of the 3 steps


@pytest.mark.slow
def test_the_video_gpu_script_runs_tiny_on_a_cpu(tmp_path):
    from pixeldrift.pipeline.video_folder import load_video_model

    _run_tiny("train_video_gpu.sh", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv", "times.txt", "video", "video.md"]
    assert load_video_model(tmp_path / "video").defaults.frames == 8
    assert "text-to-video (joint)" in (tmp_path / "video.md").read_text()
    assert (tmp_path / "log.csv").read_text().splitlines()[-1].startswith("2,")
