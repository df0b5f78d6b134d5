"""A text-to-video (and image-to-video) model: an image model whose UNet gained temporal layers.

The frames of a clip are denoised jointly, as one block (nets/temporal.py): one seed draws the
unit noise of all of them, any sampler runs on the (N, F, C, h, w) latents unchanged, and guidance
on the text and on a given first frame is sampling/video_guidance.py. Frames are decoded one by
one by the image model's VAE.

    model = load_video_model("models/video")
    clips = model.generate(["a red circle moving right"], [0])        # (1, 8, 64, 64, 3) uint8
    clips = model.generate(["a red circle moving right"], [0], first_frames=[picture])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from pixeldrift.nets.temporal import TemporalConfig, VideoUNet
from pixeldrift.nets.unet import UNet
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_uint8
from pixeldrift.pipeline.video_files import MAX_FPS, MIN_FPS
from pixeldrift.safety.moderation import enforce_prompt
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.video_guidance import VideoGuidance




@dataclass(frozen=True)
class VideoSettings:
    """What a clip is, besides its prompt and seed: frames, frames per second, the guidance on a first frame."""

    frames: int = 8
    fps: int = 8
    image_guidance: float = 1.5

    def check(self, max_frames: int) -> None:
        from pixeldrift.world.motion import MIN_FRAMES

        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or not \
                MIN_FRAMES <= self.frames <= max_frames:
            raise ValueError(f"frames: {self.frames!r} is not accepted; accepted: integers {MIN_FRAMES} to "
                             f"{max_frames}")
        if isinstance(self.fps, bool) or not isinstance(self.fps, int) or not MIN_FPS <= self.fps <= MAX_FPS:
            raise ValueError(f"fps: {self.fps!r} is not accepted; accepted: integers {MIN_FPS} to {MAX_FPS}")
        if not 0 <= self.image_guidance <= 20:
            raise ValueError(f"image guidance: {self.image_guidance!r} is not accepted; accepted: 0 to 20")


class TextToVideo(nn.Module):
    """`image_model` (a TextToImage with a UNet) with temporal layers; its denoiser now takes clips."""

    def __init__(self, image_model, temporal: TemporalConfig = TemporalConfig(),
                 defaults: VideoSettings = VideoSettings()):
        super().__init__()
        net = image_model.denoiser.net
        if not isinstance(net, UNet):
            raise ValueError(f"a video model grows from a UNet image model; {image_model.name!r} has "
                             f"{type(net).__name__}")
        image_model.denoiser.net = VideoUNet(net, temporal)
        self.image_model, self.temporal, self.defaults = image_model, temporal, defaults

    @property
    def denoiser(self):
        return self.image_model.denoiser

    @property
    def name(self) -> str:
        return self.image_model.name

    @property
    def size(self) -> int:
        return self.image_model.config.image_size

    @torch.no_grad()
    def generate(self, prompts: list[str], seeds: list[int], request: GenerationRequest | None = None,
                 settings: VideoSettings | None = None, first_frames: list[Image.Image] | None = None,
                 callback=None, controls: list | None = None) -> np.ndarray:
        """One clip per (prompt, seed): (N, F, H, W, 3) uint8. `request` gives the sampler, steps,
        schedule, text guidance and negative prompt (the model's defaults where unset); `first_frames`,
        one picture per prompt at the model's size, makes it image-to-video; `controls`, ClipControls
        with a map for every frame (pipeline/video_plan.py), steer each frame with a ControlNet."""
        from pixeldrift.pipeline.video_plan import controlled_video_denoiser

        settings = settings or self.defaults
        settings.check(self.temporal.max_frames)
        if len(prompts) != len(seeds) or (first_frames is not None and len(first_frames) != len(prompts)):
            raise ValueError("give one seed (and one first frame, if any) per prompt")
        for prompt in dict.fromkeys(prompts):
            enforce_prompt(prompt)
        model = self.image_model
        r = (request or GenerationRequest(prompt=prompts[0])).validated(model.sampling_defaults, model.limits)
        torch.set_flush_denormal(True)
        sigmas = model.sigmas(r.schedule, r.steps).to(model.device)
        cond, uncond = model.condition(list(prompts), [r.negative_prompt] * len(prompts), r)
        first = None if first_frames is None else self._first_latents(first_frames)
        denoiser = controlled_video_denoiser(self, model.denoiser, controls or [], len(prompts), settings.frames,
                                             sigmas)
        guided = VideoGuidance(denoiser, r.guidance, first, settings.image_guidance)
        noise = self.clip_noise(seeds, settings.frames)
        start = noise / model.denoiser.input_scale(sigmas[0])
        latents = get_sampler(r.sampler)(guided, start, sigmas, extra_args={"cond": cond, "uncond": uncond},
                                         callback=callback)
        return self.decode(latents)

    def clip_noise(self, seeds: list[int], frames: int) -> torch.Tensor:
        """(N, F, C, h, w) unit noise, one CPU generator per clip (the same clip on every device), its frames
        correlated by the mixed noise prior the model was trained with."""
        shape = self.image_model.latent_shape(self.size, self.size)
        clips = []
        for seed in seeds:
            generator = torch.Generator().manual_seed(seed)
            own = torch.randn((frames, *shape), generator=generator)
            clips.append(mixed_noise(torch.randn((1, *shape), generator=generator), own, self.temporal.shared_noise))
        return torch.stack(clips).to(self.image_model.device)

    def _first_latents(self, pictures: list[Image.Image]) -> torch.Tensor:
        for picture in pictures:
            if picture.size != (self.size, self.size):
                raise ValueError(f"the first frame is {picture.size[0]}x{picture.size[1]}; this model makes "
                                 f"{self.size}x{self.size} clips (resize it, or ask for resizing)")
        return self.image_model.pixels_to_latents(images_to_pixels(pictures).to(self.image_model.device))

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """(N, F, C, h, w) latents -> (N, F, H, W, 3) uint8 frames."""
        pixels = self.image_model.latents_to_pixels(latents.flatten(0, 1))  # (N*F, 3, H, W) in [-1, 1]
        frames = pixels_to_uint8(pixels)
        return frames.reshape(*latents.shape[:2], *frames.shape[1:])


def mixed_noise(shared: torch.Tensor, own: torch.Tensor, alpha: float) -> torch.Tensor:
    """The mixed noise prior of PYoCo (Ge et al. 2023, "Preserve Your Own Correlation", eq. 4):
    eps_f = (alpha eps_shared + eps_f_own) / sqrt(1 + alpha^2), unit variance per frame and correlation
    alpha^2 / (1 + alpha^2) between frames, so a video model fine-tuned from an image model starts from
    frames that already share their layout. `shared` broadcasts over the frame axis of `own`; alpha 0 is
    independent noise."""
    if alpha == 0:
        return own
    return (alpha * shared + own) / math.sqrt(1 + alpha**2)
