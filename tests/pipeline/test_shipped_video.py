"""The shipped video model (models/video): it loads as its card says, makes a clip, and keeps a given first frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pipeline.video_folder import load_video_model
from pixeldrift.world.motion import parse_clip, render_clip

FOLDER = Path(__file__).resolve().parents[2] / "models" / "video"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def video():
    return load_video_model(FOLDER)


def test_the_shipped_video_model_is_small_and_grown_from_the_default(video):
    from pixeldrift.pipeline.controlnet_folder import load_controlnet

    size = sum(p.stat().st_size for p in FOLDER.iterdir())
    # the default's float32 UNet kept bit for bit (5.5 MB of it) and float16 temporal layers
    assert size < 10_000_000 and (FOLDER / "README.md").is_file()
    assert video.size == 64 and video.defaults.frames == 8 and video.temporal.shared_noise == 1.0
    # its spatial layers are the default model's UNet, so the layout ControlNet trained on it steers every frame
    load_controlnet(FOLDER.parent / "cn-layout").check_spatial_base(video)


def test_it_makes_a_clip_and_animates_a_given_first_frame(video):
    prompt = "a red circle moving right"
    request = GenerationRequest(prompt=prompt, steps=4)
    clip = video.generate([prompt], [0], request)
    assert clip.shape == (1, 8, 64, 64, 3) and np.ptp(clip) > 100
    first = render_clip(parse_clip(prompt), 8, 64, 0)[0]
    animated = video.generate([prompt], [0], request, first_frames=[Image.fromarray(first)])
    with torch.no_grad():
        from pixeldrift.pipeline.pixels import images_to_pixels
        expected = video.decode(video.image_model.pixels_to_latents(images_to_pixels([Image.fromarray(first)]))[:, None])
    assert np.array_equal(animated[0, 0], expected[0, 0])
