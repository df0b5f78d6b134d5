"""scripts/train_video_planned.py, one step on the shipped models: it trains the temporal layers alone, so the
layout ControlNet still steers the model it writes, and that model loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.video_folder import load_video_model

ROOT = Path(__file__).resolve().parents[2]


def test_one_planned_step_moves_the_temporal_layers_only(tmp_path):
    out = tmp_path / "video"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "train_video_planned.py"), "--steps", "1", "--minutes", "0",
                    "--batch-size", "2", "--out", str(out)], check=True, capture_output=True, timeout=600, cwd=ROOT)
    before, after = load_video_model(ROOT / "models" / "video"), load_video_model(out)
    load_controlnet(ROOT / "models" / "cn-layout").check_spatial_base(after)  # spatial layers bit for bit
    moved = [name for name, (a, b) in zip(before.denoiser.net.state_dict(),
                                          zip(before.denoiser.net.state_dict().values(),
                                              after.denoiser.net.state_dict().values()))
             if not torch.equal(a.float(), b.float())]
    assert moved and all(name.startswith("temporal.") for name in moved)
    assert after.temporal == before.temporal and after.defaults == before.defaults
