"""The video model on a tiny random model: clips per seed, the folder written and read back exactly, a given
first frame kept, and every bad input or file refused by name."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from pixeldrift.bounded_files import BadFileError
from pixeldrift.nets import WeightsError
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pipeline.video_folder import load_video_model, save_video_model
from pixeldrift.pipeline.video_model import VideoSettings

PROMPT = "a red circle moving right"
FAST = GenerationRequest(prompt=PROMPT, steps=3, sampler="euler")


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def video(acting_video_dir):
    return load_video_model(acting_video_dir)


def test_a_clip_is_frames_of_uint8_one_seed_one_clip(video):
    a = video.generate([PROMPT, PROMPT], [1, 2], FAST)
    again = video.generate([PROMPT], [1], FAST)
    assert a.shape == (2, 8, 32, 32, 3) and a.dtype == np.uint8
    assert np.abs(a[0].astype(int) - again[0]).max() <= 1  # the batch does not change a clip (but float rounding)
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0, 0], a[0, 7])  # frames differ from one another


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpmpp_2m", "euler_ancestral", "unipc"])
def test_every_sampler_draws_clips(video, sampler):
    clip = video.generate([PROMPT], [0], GenerationRequest(prompt=PROMPT, steps=3, sampler=sampler))
    assert clip.shape == (1, 8, 32, 32, 3)


def test_the_frame_count_is_a_setting(video):
    assert video.generate([PROMPT], [0], FAST, VideoSettings(frames=12)).shape[1] == 12


def test_the_folder_holds_the_model_exactly(acting_video_dir, video, random_model_dir, tmp_path):
    again = tmp_path / "again"
    save_video_model(video, again)
    assert np.array_equal(load_video_model(again).generate([PROMPT], [4], FAST), video.generate([PROMPT], [4], FAST))
    config = json.loads((acting_video_dir / "config.json").read_text())
    assert config["format"] == "pixeldrift-video/1" and config["training"] == {"test": True}
    assert config["clip"] == {"frames": 8, "fps": 8, "image_guidance": 1.5}


def test_a_given_first_frame_is_the_clips_first_frame(video):
    picture = Image.fromarray(video.generate([PROMPT], [5], FAST)[0, 3])
    clip = video.generate([PROMPT], [6], FAST, first_frames=[picture])
    model = video.image_model
    with torch.no_grad():
        from pixeldrift.pipeline.pixels import images_to_pixels
        expected = video.decode(model.pixels_to_latents(images_to_pixels([picture]))[:, None])[0, 0]
    assert np.array_equal(clip[0, 0], expected)  # the picture through the VAE, untouched by sampling
    assert not np.array_equal(clip[0, 0], video.generate([PROMPT], [6], FAST)[0, 0])


def test_image_guidance_changes_the_clip(video):
    picture = Image.fromarray(video.generate([PROMPT], [5], FAST)[0, 0])
    weak = video.generate([PROMPT], [6], FAST, VideoSettings(image_guidance=1.0), first_frames=[picture])
    strong = video.generate([PROMPT], [6], FAST, VideoSettings(image_guidance=3.0), first_frames=[picture])
    assert np.array_equal(weak[0, 0], strong[0, 0]) and not np.array_equal(weak[0, 1:], strong[0, 1:])


@pytest.mark.parametrize("settings, message", [
    (VideoSettings(frames=7), "frames: 7"), (VideoSettings(frames=17), "frames: 17"),
    (VideoSettings(fps=0), "fps: 0"), (VideoSettings(fps=31), "fps: 31"),
    (VideoSettings(image_guidance=-1.0), "image guidance"),
])
def test_settings_outside_the_limits_are_refused_by_name(video, settings, message):
    with pytest.raises(ValueError, match=message):
        video.generate([PROMPT], [0], FAST, settings)


def test_a_first_frame_of_another_size_is_refused(video):
    with pytest.raises(ValueError, match="the first frame is 40x32"):
        video.generate([PROMPT], [0], FAST, first_frames=[Image.new("RGB", (40, 32))])


def test_an_image_model_folder_is_not_a_video_model(random_model_dir):
    with pytest.raises(BadFileError, match="pixeldrift-video/1"):
        load_video_model(random_model_dir)


def test_weights_that_do_not_match_the_config_are_refused_naming_the_file(acting_video_dir, random_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(acting_video_dir, broken)
    shutil.copy(random_model_dir / "denoiser.safetensors", broken / "denoiser.safetensors")  # no temporal layers
    with pytest.raises(WeightsError, match="denoiser.safetensors does not match"):
        load_video_model(broken)


def test_a_config_with_bad_clip_defaults_is_refused_naming_the_file(acting_video_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(acting_video_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    config["clip"]["frames"] = 1000
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(BadFileError, match="config.json: frames: 1000"):
        load_video_model(broken)


def test_mixed_noise_keeps_unit_variance_and_correlates_frames_as_pyoco_says():
    from pixeldrift.pipeline.video_model import mixed_noise

    generator = torch.Generator().manual_seed(0)
    shared, own = torch.randn(1, 1, 200_000, generator=generator), torch.randn(1, 2, 200_000, generator=generator)
    frames = mixed_noise(shared, own, alpha=2.0)[0]
    assert abs(float(frames.var(dim=1).mean()) - 1.0) < 0.02
    correlation = float(torch.corrcoef(frames)[0, 1])
    assert abs(correlation - 4 / 5) < 0.01  # alpha^2 / (1 + alpha^2)
    assert torch.equal(mixed_noise(shared, own, alpha=0.0), own)


def test_a_model_trained_with_shared_noise_samples_with_it(acting_video_dir, tmp_path):
    from dataclasses import replace

    video = load_video_model(acting_video_dir)
    independent = video.clip_noise([7], 8)
    video.temporal = replace(video.temporal, shared_noise=1.0)
    shared = video.clip_noise([7], 8)
    assert not torch.equal(independent, shared)
    flat = shared[0].flatten(1)
    assert float(torch.corrcoef(flat)[0, 1:].mean()) > 0.3  # about 1/2 for alpha 1
    save_video_model(video, tmp_path / "again")
    assert load_video_model(tmp_path / "again").temporal.shared_noise == 1.0
