"""The video UNet: the image UNet frame by frame at start, frames mixed once its temporal layers act, clips
independent of each other, and clear errors for shapes it cannot take."""

from __future__ import annotations

import pytest
import torch

from pixeldrift.nets import UNET_PRESETS, UNet
from pixeldrift.nets.temporal import TemporalConfig, VideoUNet, pooled_text


def _nets(seed: int = 0, act: bool = False) -> tuple[UNet, VideoUNet]:
    torch.manual_seed(seed)
    unet = UNet(UNET_PRESETS["tiny"])
    for parameter in unet.parameters():  # the zero-initialised layers too, so the output is not zero
        torch.nn.init.normal_(parameter, std=0.05)
    video = VideoUNet(unet, TemporalConfig(max_frames=8, head_channels=16))
    if act:
        for parameter in video.temporal.parameters():
            torch.nn.init.normal_(parameter, std=0.5)
    return unet, video.eval()


def _inputs(n: int = 2, frames: int = 4, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, frames, 4, 8, 8, generator=generator)
    levels = torch.rand(n, frames, generator=generator)
    context = torch.randn(n, 5, 64, generator=generator)
    mask = torch.ones(n, 5, dtype=torch.bool)
    mask[1, 3:] = False
    return x, levels, context, mask


def test_at_start_the_video_unet_is_the_image_unet_on_every_frame():
    unet, video = _nets()
    x, levels, context, mask = _inputs()
    with torch.no_grad():
        out = video(x, levels, context, mask)
        for clip in range(2):
            frames = unet(x[clip], levels[clip], context[clip:clip + 1].expand(4, -1, -1),
                          mask[clip:clip + 1].expand(4, -1))
            torch.testing.assert_close(out[clip], frames, atol=1e-5, rtol=1e-5)


def test_once_the_temporal_layers_act_a_frame_depends_on_the_other_frames_of_its_clip():
    _, still = _nets()
    _, moving = _nets(act=True)
    x, levels, context, mask = _inputs()
    changed = x.clone()
    changed[:, 3] = torch.randn(changed[:, 3].shape, generator=torch.Generator().manual_seed(9))  # the last frame only
    with torch.no_grad():
        assert torch.equal(still(x, levels, context, mask)[:, 0], still(changed, levels, context, mask)[:, 0])
        first = moving(x, levels, context, mask)[:, 0]
        difference = (first - moving(changed, levels, context, mask)[:, 0]).abs()
    assert difference.max() > 1e-3 * first.abs().max()  # against exactly 0 before


def test_a_clip_does_not_depend_on_the_other_clips_of_the_batch():
    _, video = _nets(act=True)
    x, levels, context, mask = _inputs(n=3)
    with torch.no_grad():
        together = video(x, levels, context, mask)
        alone = video(x[1:2], levels[1:2], context[1:2], mask[1:2])
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)


def test_the_frame_embedding_tells_the_frames_apart():
    """Identical frames at one level come out different once the temporal layers act: only the frame's
    place in the clip can make them differ."""
    _, video = _nets(act=True)
    x, levels, context, mask = _inputs()
    x[:] = x[:, :1]
    levels[:] = levels[:, :1]
    with torch.no_grad():
        out = video(x, levels, context, mask)
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-3


def test_pooled_text_is_the_mean_of_real_tokens_only():
    context = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(pooled_text(context, mask, 1, 2, context), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(pooled_text(None, None, 2, 3, context), torch.zeros(2, 3))


@pytest.mark.parametrize("shape, levels, message", [
    ((2, 4, 8, 8), (2, 4), "must have shape"),           # an image batch, not clips
    ((2, 4, 3, 8, 8), (2, 4), "must have shape"),        # wrong channels
    ((2, 9, 4, 8, 8), (2, 9), "9 frames"),               # past max_frames
    ((2, 4, 4, 7, 8), (2, 4), "multiples of"),           # a side the UNet cannot halve
    ((2, 4, 4, 8, 8), (2,), "one per frame"),            # one level per clip
])
def test_shapes_it_cannot_take_are_refused_by_name(shape, levels, message):
    _, video = _nets()
    with pytest.raises(ValueError, match=message):
        video(torch.zeros(shape), torch.ones(levels), torch.zeros(shape[0], 5, 64))


def test_a_unet_without_text_cannot_become_a_video_unet():
    from dataclasses import replace

    with pytest.raises(ValueError, match="text-conditioned"):
        VideoUNet(UNet(replace(UNET_PRESETS["tiny"], context_dim=None)))


def test_temporal_config_bounds_the_frames():
    with pytest.raises(ValueError, match="max_frames"):
        TemporalConfig(max_frames=0)
    with pytest.raises(ValueError, match="max_frames"):
        TemporalConfig(max_frames=10_000)
