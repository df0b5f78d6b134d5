"""Mild degradations for testing the verifier's robustness: noise, blur, JPEG.

The issue's setting, all three in this order: Gaussian pixel noise with standard
deviation 0.03 (of the 0-1 range), a Gaussian blur of radius 0.5 pixel (Pillow's
radius is the standard deviation) and a JPEG round trip at quality 75.
"""

from __future__ import annotations

from dataclasses import dataclass
import io

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Degradation:
    noise_sigma: float = 0.03
    blur_radius: float = 0.5
    jpeg_quality: int | None = 75


def degrade(image: np.ndarray, rng: np.random.Generator, settings: Degradation = Degradation()) -> np.ndarray:
    """A degraded copy of a uint8 RGB image (H x W x 3)."""
    pixels = image.astype(np.float32) / 255.0
    if settings.noise_sigma:
        pixels = pixels + rng.normal(0.0, settings.noise_sigma, pixels.shape).astype(np.float32)
    result = Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    if settings.blur_radius:
        result = result.filter(ImageFilter.GaussianBlur(settings.blur_radius))
    if settings.jpeg_quality is not None:
        buffer = io.BytesIO()
        result.save(buffer, format="JPEG", quality=settings.jpeg_quality)
        result = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return np.asarray(result)
