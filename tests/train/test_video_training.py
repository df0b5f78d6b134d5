"""Video training on a tiny model: a given first frame is clean and out of the loss, the temporal layers learn,
and `pixeldrift train video` trains, resumes and exports a folder that makes clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.data.video_stream import VideoStream
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.video_folder import load_video_model
from pixeldrift.pipeline.video_model import TextToVideo
from pixeldrift.sampling.video_guidance import GIVEN_SIGMA
from pixeldrift.train.trainer import BatchNoise
from pixeldrift.train.video import VideoTraining


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def _noise(seed: int = 0, batch: int = 2) -> BatchNoise:
    return BatchNoise(torch.Generator().manual_seed(seed), slice(0, batch), batch, torch.device("cpu"))


def _module(model_dir, first_frame_share: float) -> VideoTraining:
    return VideoTraining(TextToVideo(load_model(model_dir)), caption_dropout=0.0, first_frame_share=first_frame_share)


def _clips():
    return VideoStream(seed=0, size=32, frames=8).batch([0, 1])


def _loss(module, spoil_first: bool):
    """The loss, and the (x, sigma) the denoiser was called with; `spoil_first` adds 10 to its frame 0 output."""
    denoiser, seen = module.model.image_model.denoiser, []
    real_forward = denoiser.forward

    def recorded(x, sigma, **cond):
        seen.append((x, sigma))
        out = real_forward(x, sigma, **cond).clone()
        if spoil_first:
            out[:, 0] += 10.0
        return out

    denoiser.forward = recorded  # on this instance only
    try:
        return module(*_clips(), _noise()), seen[0]
    finally:
        del denoiser.forward


def test_a_given_first_frame_is_passed_clean_at_the_given_level_and_not_counted(random_model_dir):
    module = _module(random_model_dir, first_frame_share=1.0)
    with torch.no_grad():
        loss, (x, sigma) = _loss(module, spoil_first=False)
        spoiled, _ = _loss(module, spoil_first=True)
        noise = _noise()  # the draws forward makes before the latents: dropout, given, levels
        noise.rand(), noise.rand(), noise.draw(module.draw_sigma)
        latents = module._latents(_clips()[0], noise)
    assert torch.equal(sigma[:, 0], torch.full((2,), GIVEN_SIGMA)) and bool((sigma[:, 1:] > GIVEN_SIGMA).all())
    assert (x[:, 0] - latents[:, 0]).abs().max() <= 10 * GIVEN_SIGMA  # the clean latent, barely noised
    torch.testing.assert_close(loss, spoiled)  # frame 0's prediction does not count


def test_without_a_given_frame_every_frame_counts_at_one_level(random_model_dir):
    module = _module(random_model_dir, first_frame_share=0.0)
    with torch.no_grad():
        loss, (_, sigma) = _loss(module, spoil_first=False)
        spoiled, _ = _loss(module, spoil_first=True)
    assert torch.equal(sigma, sigma[:, :1].expand_as(sigma))
    assert bool((spoiled > loss).all())


def test_one_step_teaches_the_temporal_layers(random_model_dir):
    module = _module(random_model_dir, first_frame_share=0.5)
    temporal = module.model.denoiser.net.temporal
    assert all(bool((block.proj_out.weight == 0).all()) for block in temporal)
    module(*_clips(), _noise()).mean().backward()
    assert all(block.proj_out.weight.grad.abs().sum() > 0 for block in temporal)
    assert all(p.grad is None for p in module.model.image_model.vae.parameters())  # the VAE stays frozen


def test_bad_shares_are_refused(random_model_dir):
    with pytest.raises(ValueError, match="first-frame share"):
        _module(random_model_dir, first_frame_share=1.5)


def test_train_video_trains_resumes_and_exports_a_video_model(random_model_dir, tmp_path):
    out, export = tmp_path / "run", tmp_path / "video"
    common = ["train", "video", "--init", str(random_model_dir), "--batch-size", "2", "--out", str(out),
              "--checkpoint-every", "1", "--warmup", "1"]
    first = CliRunner().invoke(cli, [*common, "--steps", "2", "--export", str(export)])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, [*common, "--steps", "3", "--resume", "--export", str(export)])
    assert again.exit_code == 0, again.output
    video = load_video_model(export)
    assert any(bool((block.proj_out.weight != 0).any()) for block in video.denoiser.net.temporal)
    import json
    assert json.loads((export / "config.json").read_text())["training"]["steps_done"] == 3
    clip = video.generate(["a red circle moving right"], [0], GenerationRequest(prompt="x", steps=2))
    assert clip.shape == (1, 8, 32, 32, 3) and np.ptp(clip) > 0


def test_train_video_refuses_data_and_size_options(random_model_dir, tmp_path):
    result = CliRunner().invoke(cli, ["train", "video", "--init", str(random_model_dir), "--out", str(tmp_path),
                                      "--size", "32"])
    assert result.exit_code == 2 and "leave out" in result.output


def test_freeze_spatial_trains_the_temporal_layers_alone(random_model_dir):
    model = TextToVideo(load_model(random_model_dir))
    module = VideoTraining(model, caption_dropout=0.0, first_frame_share=0.5, freeze_spatial=True)
    module(*_clips(), _noise()).mean().backward()
    net = model.denoiser.net
    assert all(p.grad is None and not p.requires_grad for p in net.spatial.parameters())
    assert all(block.proj_out.weight.grad.abs().sum() > 0 for block in net.temporal)


def test_a_temporal_block_backpropagates_from_a_channels_last_input_that_needs_no_gradient(random_model_dir):
    """Frozen spatial layers hand the temporal layers such an input; torch's CPU GroupNorm backward crashed on it."""
    block = TextToVideo(load_model(random_model_dir)).denoiser.net.temporal[0]
    channels = block.norm_in.num_channels
    x = torch.randn(4, channels, 4, 4).contiguous(memory_format=torch.channels_last)
    block(x, 2, torch.zeros(2, block.text_proj.in_features)).sum().backward()
    assert block.norm_in.weight.grad is not None


def test_spatial_from_puts_the_image_model_back_under_the_temporal_layers(random_model_dir, tmp_path):
    from pixeldrift.nets.temporal import TemporalConfig
    from pixeldrift.pipeline.video_model import VideoSettings
    from pixeldrift.train.video import initial_video_model
    export = tmp_path / "video"
    result = CliRunner().invoke(cli, ["train", "video", "--init", str(random_model_dir), "--batch-size", "2",
                                      "--steps", "2", "--warmup", "1", "--lr", "1e-2", "--out", str(tmp_path / "run"),
                                      "--export", str(export)])
    assert result.exit_code == 0, result.output
    trained, image = load_video_model(export), load_model(random_model_dir)
    image_state = image.denoiser.net.state_dict()
    assert any(not torch.equal(t, image_state[k]) for k, t in trained.denoiser.net.spatial.state_dict().items())
    restored = initial_video_model(export, TemporalConfig(), VideoSettings(), spatial_from=random_model_dir)
    for name, tensor in restored.denoiser.net.spatial.state_dict().items():
        assert torch.equal(tensor, image_state[name]), name
    for (name, tensor), kept in zip(restored.denoiser.net.temporal.state_dict().items(),
                                    trained.denoiser.net.temporal.state_dict().values()):
        assert torch.equal(tensor, kept), name
    refused = CliRunner().invoke(cli, ["train", "video", "--init", str(random_model_dir), "--spatial-from",
                                       str(random_model_dir), "--out", str(tmp_path / "run2")])
    assert refused.exit_code == 1 and "is an image model" in refused.output
