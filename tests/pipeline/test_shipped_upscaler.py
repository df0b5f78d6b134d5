"""The shipped upscaler (models/upscaler): small, loads as its card says, and enlarges a held-out world scene closer
to the true 256-px render than bicubic does (the card's measurement, on one scene)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from pixeldrift import world
from pixeldrift.applications.inversion import psnr
from pixeldrift.pipeline.upscaler import UpscaleSettings
from pixeldrift.pipeline.upscaler_folder import load_upscaler

FOLDER = Path(__file__).resolve().parents[2] / "models" / "upscaler"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def test_the_folder_is_small_and_enlarges_a_scene_better_than_bicubic():
    assert sum(p.stat().st_size for p in FOLDER.iterdir()) < 4_000_000 and (FOLDER / "README.md").is_file()
    upscaler = load_upscaler(FOLDER)
    assert (upscaler.config.low_res_size, upscaler.out_size) == (64, 256)
    spec = world.resolve_wildcards(world.parse_prompt(world.HELDOUT_PROMPTS[3][1]), random.Random(3))
    truth = Image.fromarray(world.render(spec, size=256, seed=3))
    small = truth.reduce(4)  # the 4x box reduction the model was trained to undo
    enlarged = upscaler.upscale_images([small], [0], UpscaleSettings(steps=10))[0]
    assert enlarged.size == (256, 256)
    assert psnr(truth, enlarged) > psnr(truth, small.resize((256, 256), Image.Resampling.BICUBIC)) + 1.0
