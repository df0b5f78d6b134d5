"""ControlNet residuals for a video denoiser: one control map per frame.

A video model grown from an image model keeps that model's UNet as its spatial layers
(nets/temporal.py), so a ControlNet trained on the image model (Zhang et al. 2023) steers every
frame of a clip as it steers an image: the clip's frames are flattened into a batch of images,
each with its own map, the ControlNet reads them as the image model's frames (c_in x, the noise
level, the caption), and its residuals are added to the video UNet's skips and middle, between
the temporal layers. With maps that move, a layout planned for every frame (LLM-grounded Video
Diffusion, Lian et al. 2024, sec. 3: a planner writes a dynamic scene layout, then the video
model draws it), the temporal layers and the shared noise keep the frames one clip while the
ControlNet puts each frame's objects where the plan does.

Called as the samplers call a denoiser: (x (N, F, C, h, w), sigma (N, F), context (N, L, D), ...).
"""

from __future__ import annotations

import torch

from pixeldrift.sampling.control import ControlDenoiser


class VideoControlDenoiser(ControlDenoiser):
    """Wraps a video denoiser adapter with ControlNet units whose hints hold one map per frame of each clip
    ((clips * F, C, H, W), clip-major: the order of x.flatten(0, 1))."""

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        if x.ndim != 5 or sigma.shape != x.shape[:2]:
            raise ValueError(f"a video control denoiser takes x (N, F, C, h, w) and sigma (N, F), got "
                             f"{tuple(x.shape)} and {tuple(sigma.shape)}")
        frames = x.shape[1]
        per_frame = {key: None if value is None else value.repeat_interleave(frames, dim=0)
                     for key, value in cond.items()}
        residuals = self.residuals(x.flatten(0, 1), sigma.reshape(-1), per_frame)
        if residuals is None:
            return self.denoiser(x, sigma, **cond)
        return self.denoiser(x, sigma, **cond, control=residuals)
