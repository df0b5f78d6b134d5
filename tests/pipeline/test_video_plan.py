"""Plan, then animate: every frame's layout map lines up with the clip's render, a plan decides what the prompt
leaves open, a ControlNet steers each frame of a video model exactly as it steers the image model, and a video
model whose spatial layers moved is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.video_folder import load_video_model
from pixeldrift.pipeline.video_model import TextToVideo
from pixeldrift.pipeline.video_plan import ClipControl, plan_clip
from pixeldrift.sampling.control import ControlDenoiser, ControlUnit
from pixeldrift.sampling.video_control import VideoControlDenoiser
from pixeldrift.world import PromptError
from pixeldrift.world.control_maps import NEUTRAL_RGB, clip_layout_maps
from pixeldrift.world.motion import parse_clip, render_clip

PROMPT = "a red circle moving right"
FAST = GenerationRequest(prompt=PROMPT, steps=3, sampler="euler")


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def _objects(maps: np.ndarray) -> np.ndarray:
    return (maps != np.array(NEUTRAL_RGB, np.uint8)).any(-1)


def test_a_clips_layout_maps_are_its_frames_objects_on_the_neutral_grey():
    clip = parse_clip("two blue squares falling")
    maps, frames = clip_layout_maps(clip, 8, 64, 5), render_clip(clip, 8, 64, 5)
    inside = _objects(maps)
    # the objects' own pixels, away from their anti-aliased rims, are the render's
    core = inside & np.roll(inside, 1, 1) & np.roll(inside, -1, 1) & np.roll(inside, 1, 2) & np.roll(inside, -1, 2)
    assert core.any(axis=(1, 2)).all() and np.array_equal(maps[core], frames[core])
    rows = [np.nonzero(frame.any(1))[0].mean() for frame in inside]
    assert all(b > a for a, b in zip(rows, rows[1:]))  # falling: down, frame after frame
    travelled = (rows[-1] - rows[0]) / 64
    assert travelled == pytest.approx(0.3, abs=0.03)  # the unsaid speed crosses 0.3 of the image


def test_a_clocks_maps_turn_its_hands():
    maps = clip_layout_maps(parse_clip("a clock going from 3:00 to 4:00"), 8, 64, 0)
    assert not np.array_equal(maps[0], maps[-1])


def test_a_plan_decides_what_the_prompt_leaves_open_from_its_seed():
    plan = plan_clip("a triangle moving left", 3, 8, 64)
    again, other = plan_clip("a triangle moving left", 3, 8, 64), plan_clip("a triangle moving left", 4, 8, 64)
    group = plan.clip.scene.groups[0]
    assert group.colour is not None and group.size is not None and plan.clip.background is not None
    assert parse_clip(plan.caption) == plan.clip  # the caption says all that was decided
    assert plan.caption == again.caption and np.array_equal(plan.maps, again.maps)
    assert not np.array_equal(plan.maps, other.maps)
    assert plan.maps.shape == (8, 64, 64, 3)
    with pytest.raises(PromptError, match="spinning"):
        plan_clip("a red circle spinning", 0, 8, 64)


def test_a_controlnet_steers_each_frame_as_it_steers_the_image_model(random_model_dir, acting_controlnet_dir):
    image, video = load_model(random_model_dir), TextToVideo(load_model(random_model_dir))  # temporal layers at zero
    net = load_controlnet(acting_controlnet_dir).net
    generator = torch.Generator().manual_seed(0)
    n, frames, size = 2, 3, image.config.image_size
    x = torch.randn(n, frames, *image.latent_shape(size, size), generator=generator)
    sigma = torch.full((n, frames), 2.0)
    hint = torch.rand(n * frames, 3, size, size, generator=generator)
    cond, _ = image.condition(["a red circle moving right", "a blue square falling"], ["", ""], FAST.validated(
        image.sampling_defaults, image.limits))
    with torch.no_grad():
        steered = VideoControlDenoiser(video.denoiser, [ControlUnit(net, hint, 1.5)])(x, sigma, **cond)
        free = video.denoiser(x, sigma, **cond)
        per_frame = {k: v.repeat_interleave(frames, 0) for k, v in cond.items()}
        alone = ControlDenoiser(image.denoiser, [ControlUnit(net, hint, 1.5)])(x.flatten(0, 1), sigma.reshape(-1),
                                                                                **per_frame)
    torch.testing.assert_close(steered.flatten(0, 1), alone, atol=1e-5, rtol=1e-4)
    assert (steered - free).abs().max() > 1e-3


def test_planned_clips_follow_their_maps(acting_video_dir, acting_controlnet_dir):
    video, control_model = load_video_model(acting_video_dir), load_controlnet(acting_controlnet_dir)
    plan = plan_clip(PROMPT, 1, 8, video.size)
    free = video.generate([plan.caption], [1], FAST)
    steered = video.generate([plan.caption], [1], FAST, controls=[ClipControl(control_model, plan.maps[None], 2.0)])
    assert steered.shape == free.shape == (1, 8, video.size, video.size, 3)
    assert not np.array_equal(steered, free)
    with pytest.raises(ValueError, match=r"control 1: the maps must be a uint8 array of shape \(1, 8, 32, 32, 3\)"):
        video.generate([PROMPT], [1], FAST, controls=[ClipControl(control_model, plan.maps, 2.0)])
    with pytest.raises(ValueError, match="control 1: strength must be a number from 0 to 5"):
        video.generate([PROMPT], [1], FAST, controls=[ClipControl(control_model, plan.maps[None], 7.0)])


def test_a_video_model_whose_spatial_layers_moved_is_refused(acting_video_dir, acting_controlnet_dir):
    video, control_model = load_video_model(acting_video_dir), load_controlnet(acting_controlnet_dir)
    control_model.check_spatial_base(video)  # grown from the ControlNet's base, spatial layers kept
    with torch.no_grad():
        video.denoiser.net.spatial.conv_in.weight.add_(0.01)
    maps = plan_clip(PROMPT, 0, 8, video.size).maps[None]
    with pytest.raises(ValueError, match="this video model's spatial layers are another UNet"):
        video.generate([PROMPT], [0], FAST, controls=[ClipControl(control_model, maps)])
