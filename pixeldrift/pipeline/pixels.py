"""The one pixel convention of pipelines: RGB images <-> float tensors (N, 3, H, W) in [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def pixels_to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8, rounded to the nearest level."""
    return ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def pixels_to_images(pixels: torch.Tensor) -> list[Image.Image]:
    return [Image.fromarray(np.ascontiguousarray(a)) for a in pixels_to_uint8(pixels)]


def images_to_pixels(images: list[Image.Image]) -> torch.Tensor:
    """RGB images to a (N, 3, H, W) float tensor in [-1, 1]."""
    arrays = np.stack([np.asarray(image.convert("RGB"), dtype=np.float32) for image in images])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2) / 127.5 - 1
