"""The forward process on a real image: destroyed by noise step by step, and one training example.

DDPM's forward process (Ho et al. 2020, eq. 4): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,
in pixel space, with the chosen beta schedule over T = 1000 steps. The training
example at step t is what the network sees and what it must predict: the input
x_t, the target noise eps, and the clean image that removing exactly that noise
gives back.
"""

from __future__ import annotations

import torch
from PIL import Image

from pixeldrift.diffusion.schedules import vp_betas
from pixeldrift.pipeline.contact_sheet import labelled_sheet
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_images

TIMESTEPS = 1000
MAX_SIDE = 1024
DDPM_RANGE = {"beta_start": 1e-4, "beta_end": 0.02}  # Ho et al. 2020's linear schedule


def forward_frames(image: Image.Image, frames: int = 8, schedule: str = "linear", seed: int = 0
                   ) -> tuple[list[int], list[Image.Image]]:
    """The image at `frames` timesteps from 0 to T-1, all with the same noise sample."""
    if not 2 <= frames <= 64:
        raise ValueError(f"frames must be from 2 to 64, got {frames}")
    x0, alpha_bar, eps = _setup(image, schedule, seed)
    steps = [round(i * (TIMESTEPS - 1) / (frames - 1)) for i in range(frames)]
    noisy = torch.cat([_noised(x0, alpha_bar[t], eps) for t in steps])
    return steps, pixels_to_images(noisy)


def training_example(image: Image.Image, t: int, schedule: str = "linear", seed: int = 0) -> list[Image.Image]:
    """[x_t (network input), eps (the target, shown at 1/3 scale), x_0 recovered from x_t and eps]."""
    if not 0 <= t < TIMESTEPS:
        raise ValueError(f"the training step must be from 0 to {TIMESTEPS - 1}, got {t}")
    x0, alpha_bar, eps = _setup(image, schedule, seed)
    x_t = _noised(x0, alpha_bar[t], eps)
    recovered = (x_t - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
    return pixels_to_images(torch.cat([x_t, eps / 3, recovered]))


def forward_sheet(image: Image.Image, frames: int = 8, t: int = 500, schedule: str = "linear", seed: int = 0
                  ) -> tuple[Image.Image, list[int], list[Image.Image]]:
    """(the labelled sheet, its timesteps, its noised frames): the frames also make the CLI's GIF."""
    steps, noisy = forward_frames(image, frames, schedule, seed)
    pair = training_example(image, t, schedule, seed)
    blank = Image.new("RGB", noisy[0].size, "white")
    row2 = pair + [blank] * (len(noisy) - len(pair))
    sheet = labelled_sheet(noisy + row2, len(noisy), [f"t={s}" for s in steps], ["x_t", f"t={t}"],
                           f"forward process ({schedule}); row 2: input x_t, target noise, x_0 = (x_t - noise)")
    return sheet, steps, noisy


def _setup(image: Image.Image, schedule: str, seed: int):
    image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    x0 = images_to_pixels([image]).double()
    betas = vp_betas(schedule, TIMESTEPS, **DDPM_RANGE) if schedule == "linear" else vp_betas(schedule, TIMESTEPS)
    alpha_bar = torch.cumprod(1 - betas, 0)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x0, alpha_bar, eps


def _noised(x0: torch.Tensor, alpha_bar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
