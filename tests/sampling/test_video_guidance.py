"""Guidance for video: CFG on the text alone, and the two-condition form with a given first frame, checked
against the formula on a denoiser whose every call is recorded."""

from __future__ import annotations

import torch

from pixeldrift.sampling.video_guidance import GIVEN_SIGMA, VideoGuidance


class RecordingDenoiser:
    """D(x, sigma, context) = x * 0.5 + sigma-weighted text, so every input shows in the output; records calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, sigma, context, context_mask):
        self.calls.append((x.clone(), sigma.clone(), context.clone()))
        text = context.mean(dim=(1, 2))[:, None, None, None, None]
        return 0.5 * x + text * sigma[..., None, None, None] + x[:, :1] * 0.25  # frame 0 reaches every frame


def _conditions():
    cond = {"context": torch.full((2, 3, 4), 2.0), "context_mask": torch.ones(2, 3, dtype=torch.bool)}
    uncond = {"context": torch.zeros(2, 3, 4), "context_mask": torch.ones(2, 3, dtype=torch.bool)}
    return cond, uncond


def _x():
    return torch.randn(2, 5, 4, 2, 2, generator=torch.Generator().manual_seed(0))


def test_text_guidance_is_classifier_free_guidance_per_clip():
    denoiser, (cond, uncond), x = RecordingDenoiser(), _conditions(), _x()
    sigma = torch.tensor([3.0, 1.5])
    guided = VideoGuidance(denoiser, text_scale=4.0)(x, sigma, cond, uncond)
    levels = sigma[:, None].expand(2, 5)
    with_text, without = denoiser(x, levels, **cond), denoiser(x, levels, **uncond)
    torch.testing.assert_close(guided, without + 4.0 * (with_text - without))


def test_every_frame_is_given_its_clips_noise_level():
    denoiser, (cond, uncond), x = RecordingDenoiser(), _conditions(), _x()
    VideoGuidance(denoiser, text_scale=1.0)(x, torch.tensor([3.0, 1.5]), cond, uncond)
    (_, sigma, _), = denoiser.calls
    assert torch.equal(sigma, torch.tensor([[3.0] * 5, [1.5] * 5]))


def test_a_given_first_frame_is_passed_clean_at_the_given_level_and_returned_as_it_is():
    denoiser, (cond, uncond), x = RecordingDenoiser(), _conditions(), _x()
    first = torch.randn(2, 4, 2, 2, generator=torch.Generator().manual_seed(1))
    out = VideoGuidance(denoiser, text_scale=1.0, first_latent=first, image_scale=1.0)(
        x, torch.tensor([3.0, 1.5]), cond, uncond)
    (seen, sigma, _), = denoiser.calls  # guidance 1 and 1: one call, no unconditional branch
    assert torch.equal(seen[:, 0], first) and torch.equal(seen[:, 1:], x[:, 1:])
    assert torch.equal(sigma[:, 0], torch.full((2,), GIVEN_SIGMA)) and torch.equal(sigma[:, 1], torch.tensor([3.0, 1.5]))
    assert torch.equal(out[:, 0], first)


def test_two_condition_guidance_follows_instructpix2pix_equation_3():
    denoiser, (cond, uncond), x = RecordingDenoiser(), _conditions(), _x()
    first = torch.randn(2, 4, 2, 2, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor([3.0, 1.5])
    out = VideoGuidance(denoiser, text_scale=5.0, first_latent=first, image_scale=2.0)(x, sigma, cond, uncond)
    levels = sigma[:, None].expand(2, 5).clone()
    given, given_levels = x.clone(), levels.clone()
    given[:, 0], given_levels[:, 0] = first, GIVEN_SIGMA
    neither = denoiser(x, levels, **uncond)
    image = denoiser(given, given_levels, **uncond)
    both = denoiser(given, given_levels, **cond)
    expected = neither + 2.0 * (image - neither) + 5.0 * (both - image)
    torch.testing.assert_close(out[:, 1:], expected[:, 1:])
    assert torch.equal(out[:, 0], first)
