"""Where sampling starts when there is an image to edit: image-to-image (SDEdit) and inpainting.

Image-to-image (Meng et al. 2022, SDEdit): encode the image, add noise at the sigma
that `strength` selects from the same schedule text-to-image would use, and
denoise from there. With `steps` steps, the last int(steps * strength) are run,
as diffusers does; strength 1 is exactly text-to-image.

Inpainting: a wrapper around the denoiser puts the noised original back into the
known region at every call and reports the original there as the clean estimate,
so every sampler, deterministic or ancestral, keeps that region while it fills the
mask. The mask is feathered (Gaussian, `mask_blur` pixels) both in latent space,
for the seam during sampling, and in pixel space, to paste the result over the
original at the end: outside the feathered edge the output is the input, exactly.
RePaint (Lugmayr et al. 2022) resampling redoes each step `resample` times,
re-noising in between, so the filled region can agree with its surroundings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.pipeline.pixels import images_to_pixels


@dataclass
class Start:
    """The state sampling starts from, and what inpainting needs along the way."""

    x: torch.Tensor
    sigmas: torch.Tensor
    known: torch.Tensor | None = None        # latents of the init image
    mask: torch.Tensor | None = None         # (1, 1, h, w) in [0, 1], 1 = repaint, in latent space
    pixels: torch.Tensor | None = None       # the init image in [-1, 1]
    pixel_mask: torch.Tensor | None = None   # (1, 1, H, W), feathered


def first_step(steps: int, strength: float) -> int:
    """The index into the schedule where image-to-image starts (0 for strength 1)."""
    return steps - min(int(steps * strength), steps)


def prepare(model, r, noise: torch.Tensor, sigmas: torch.Tensor, batch: int, known: torch.Tensor | None = None
            ) -> Start:
    """The starting latents and the sigmas still to run, for a validated request.

    `known`: latents to start from instead of the init image's (the hires fix's second pass).
    """
    if r.init_image is None and known is None:
        return Start(noise / model.denoiser.input_scale(sigmas[0]), sigmas)
    pixels = None
    if known is None:
        image = r.init_image.convert("RGB")
        if image.size != (r.width, r.height):
            image = image.resize((r.width, r.height), Image.Resampling.LANCZOS)
        pixels = images_to_pixels([image]).to(model.device)
        known = model.pixels_to_latents(pixels).expand(batch, -1, -1, -1)
    start = Start(known, sigmas, known=known, pixels=pixels)
    if r.mask is not None:
        start.pixel_mask, start.mask = masks(r.mask, (r.width, r.height), r.mask_blur, known.shape[-2:])
        start.pixel_mask, start.mask = start.pixel_mask.to(model.device), start.mask.to(model.device)
    if r.strength >= 1:
        start.x = noise / model.denoiser.input_scale(sigmas[0])
    else:
        start.sigmas = sigmas[first_step(len(sigmas) - 1, r.strength):]
        if len(start.sigmas) > 1:
            start.x = known + start.sigmas[0] * noise
    return start


def masks(mask: Image.Image, size: tuple[int, int], blur: int, latent_hw) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel mask, latent mask): white (>= 128) is repainted; feathered outward by `blur` pixels."""
    grey = mask.convert("L")
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.NEAREST)
    hard = torch.from_numpy(np.asarray(grey) >= 128).float()[None, None]
    factor = size[1] / latent_hw[0]
    latent_hard = F.adaptive_max_pool2d(hard, tuple(latent_hw))  # a latent touching the mask is repainted
    return feather(hard, blur), feather(latent_hard, blur / factor)


def feather(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """Gaussian blur (std = radius) that only grows the mask: inside stays 1."""
    if radius <= 0:
        return mask
    half = max(1, math.ceil(2 * radius))
    offsets = torch.arange(-half, half + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / radius) ** 2)
    kernel = kernel / kernel.sum()
    padded = F.pad(mask, (half, half, half, half), mode="replicate")
    blurred = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1))
    return torch.maximum(mask, blurred)


def composite(original: torch.Tensor, generated: torch.Tensor, pixel_mask: torch.Tensor) -> torch.Tensor:
    return original * (1 - pixel_mask) + generated * pixel_mask


class KnownRegionDenoiser:
    """Keeps the known region of an inpainting: the noised original in, the original out."""

    def __init__(self, inner, known: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor):
        self.inner, self.known, self.mask, self.noise = inner, known, mask, noise

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        noised_known = self.known + append_dims(sigma, x.ndim) * self.noise
        x = self.mask * x + (1 - self.mask) * noised_known
        denoised = self.inner(x, sigma, **kwargs)
        return self.mask * denoised + (1 - self.mask) * self.known


def resampled(sampler, denoiser, x, sigmas, times: int, extra_args: dict, callback, generator) -> torch.Tensor:
    """RePaint: each step is taken `times` times, re-noised back up to its start sigma in between.

    Each step is its own one-interval solve, so multistep samplers run at first order here.
    """
    latest = {}
    for i in range(len(sigmas) - 1):
        pair = sigmas[i:i + 2]
        for attempt in range(times):
            stepped = sampler(denoiser, x, pair, extra_args=extra_args, generator=generator,
                              callback=lambda _j, _x, d: latest.update(denoised=d))
            if attempt < times - 1 and pair[1] > 0:
                fresh = torch.randn(x.shape, generator=generator).to(x)
                x = stepped + (pair[0] ** 2 - pair[1] ** 2).sqrt() * fresh
        x = stepped
        if callback is not None:
            callback(i, x, latest["denoised"])
    return x
