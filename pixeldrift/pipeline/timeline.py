"""From pure noise to the final image: the sampler's state and its clean estimate at chosen steps.

Each captured step shows two things: the noisy sample x the sampler holds (for
latent models, its first three latent channels stretched to RGB: what the
sampler really works on) and the denoiser's estimate of the clean image, decoded
to pixels. Early estimates are blurry averages; the detail comes last.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from PIL import Image

from pixeldrift.pipeline.contact_sheet import labelled_sheet, save_gif
from pixeldrift.pipeline.pixels import pixels_to_images
from pixeldrift.pipeline.request import GeneratedImage, GenerationRequest


@dataclass
class Frame:
    step: int              # 1-based: after this many steps
    sigma: float           # the noise level of `noisy`
    noisy: Image.Image
    estimate: Image.Image


def chosen_steps(steps: int, frames: int) -> list[int]:
    """`frames` step numbers from 1 to `steps`, evenly spread, always ending with the last."""
    frames = max(1, min(frames, steps))
    if frames == 1:
        return [steps]
    return sorted({round(1 + i * (steps - 1) / max(1, frames - 1)) for i in range(frames)} | {steps})


def run_timeline(model, request: GenerationRequest, frames: int = 8) -> tuple[GeneratedImage, list[Frame]]:
    """Generate one image, capturing `frames` steps along the way."""
    r = request.validated(model.sampling_defaults, model.limits)
    wanted = set(chosen_steps(r.steps, frames))
    sigmas = model.sigmas(r.schedule, r.steps)
    captured: list[Frame] = []

    def capture(i, x, denoised):
        if i + 1 in wanted:
            size = (r.width, r.height)
            captured.append(Frame(i + 1, float(sigmas[i + 1]), _show_noisy(model, x[:1], sigmas[i + 1], size),
                                  model.to_images(denoised[:1])[0]))

    result = model.generate(replace(r, batch_size=1), callback=capture)[0]
    return result, captured


def _show_noisy(model, x: torch.Tensor, sigma: torch.Tensor, size: tuple[int, int]) -> Image.Image:
    """The sampler's state as an image: scaled to unit variance, first three channels, stretched to [-1, 1]."""
    scaled = x[:, :3] * model.denoiser.input_scale(sigma.to(x))
    low, high = scaled.amin(), scaled.amax()
    image = pixels_to_images((scaled - low) / (high - low).clamp(min=1e-8) * 2 - 1)[0]
    return image.resize(size, Image.Resampling.NEAREST)


def timeline_strip(frames: list[Frame]) -> Image.Image:
    """Two rows: the noisy sample over its clean estimate, one column per captured step."""
    images = [f.noisy for f in frames] + [f.estimate for f in frames]
    titles = [f"{f.step}: s={f.sigma:.2g}" for f in frames]
    return labelled_sheet(images, len(frames), titles, ["noisy x", "clean est."], "from pure noise to the image")


def write_gif(frames: list[Frame], path, comment: str, millis: int = 250) -> None:
    """An animated GIF of (noisy | estimate) pairs; the comment carries the AI-generated label."""
    pairs = []
    for f in frames:
        pair = Image.new("RGB", (f.noisy.width * 2 + 2, f.noisy.height), "white")
        pair.paste(f.noisy, (0, 0))
        pair.paste(f.estimate, (f.noisy.width + 2, 0))
        pairs.append(pair)
    save_gif(pairs, path, comment, millis)
