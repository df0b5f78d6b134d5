"""SSIM, the structural similarity index (Wang et al. 2004, eq. 13), for restored images.

SSIM(x, y) = mean over windows of (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
with the paper's 11x11 Gaussian window (standard deviation 1.5), K1 = 0.01, K2 = 0.03 and L = 255,
computed per channel on 8-bit RGB and averaged; windows lie wholly inside the image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

WINDOW, WINDOW_STD = 11, 1.5
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of two RGB images of one size, each at least 11 pixels a side (1.0 for identical images)."""
    if a.size != b.size:
        raise ValueError(f"cannot compare a {a.size} image with a {b.size} one")
    if min(a.size) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW} pixels a side, got {a.size}")
    x, y = (torch.from_numpy(np.asarray(i.convert("RGB"), np.float64)).permute(2, 0, 1)[:, None] for i in (a, b))
    axis = torch.arange(WINDOW, dtype=torch.float64) - WINDOW // 2
    g = torch.exp(-axis**2 / (2 * WINDOW_STD**2))
    window = (torch.outer(g, g) / g.sum() ** 2)[None, None]  # (1, 1, 11, 11)
    mean = lambda t: F.conv2d(t, window)  # noqa: E731  valid windows only, per channel (C, 1, H, W)
    mx, my = mean(x), mean(y)
    vx, vy, cxy = mean(x * x) - mx**2, mean(y * y) - my**2, mean(x * y) - mx * my
    index = (2 * mx * my + C1) * (2 * cxy + C2) / ((mx**2 + my**2 + C1) * (vx + vy + C2))
    return float(index.mean())
