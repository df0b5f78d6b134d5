"""The super-resolution backbone: a UNet that sees the noisy image beside the enlarged low-resolution one.

SR3 (Saharia et al. 2021, "Image Super-Resolution via Iterative Refinement", sec. 2.4) conditions a
denoiser on the low-resolution image by enlarging it to the target size with bicubic interpolation
and concatenating it with the noisy image along the channels; the UNet then predicts from both. Here the UNet is pixeldrift's own (nets/unet.py) with 6 input channels (noisy RGB,
enlarged RGB) and 3 out, and no attention anywhere: no attention levels, no text context, and its
middle's self-attention block removed. The network is then fully convolutional, so it trains on
small crops and samples whole images (Imagen's 256 -> 1024 model, without self-attention, trains on
64 -> 256 crops: Saharia et al. 2022, "Photorealistic Text-to-Image Diffusion Models").

Interface: net(x, noise_level, low_res) -> out shaped like x, with `low_res` the low-resolution image
already enlarged to x's size (`enlarge`): a crop of it trains beside the same crop of x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pixeldrift.nets.unet import UNet, UNetConfig

_COMMON = dict(in_channels=6, out_channels=3, attention_levels=(), context_dim=None)
# "small": 1.1M parameters, ~0.2 s a 256 x 256 call on one CPU thread; "tiny" is for tests
UPSCALER_PRESETS: dict[str, UNetConfig] = {
    "tiny": UNetConfig(base_channels=8, channel_mults=(1, 2), head_channels=8, norm_groups=4, **_COMMON),
    "small": UNetConfig(base_channels=16, channel_mults=(1, 2, 4, 4), head_channels=16, norm_groups=8, **_COMMON),
}


def check_upscaler_unet(cfg: UNetConfig) -> None:
    """ValueError unless `cfg` is a UNet the upscaler can use: image plus condition in, image out, no attention."""
    if cfg.in_channels != 2 * cfg.out_channels:
        raise ValueError(f"an upscaler's UNet takes the noisy image and the enlarged one: in_channels must be "
                         f"2 x out_channels, got {cfg.in_channels} and {cfg.out_channels}")
    if cfg.attention_levels or cfg.context_dim is not None:
        raise ValueError("an upscaler's UNet is fully convolutional: attention_levels must be empty and "
                         f"context_dim None, got {cfg.attention_levels!r} and {cfg.context_dim!r}")


def enlarge(low_res: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, C, h, w) -> (N, C, h * factor, w * factor) by bicubic interpolation (SR3's conditioning), clamped to the
    input's [-1, 1] range, since bicubic overshoots at edges."""
    if low_res.ndim != 4:
        raise ValueError(f"a low-resolution batch must have shape (N, C, h, w), got {tuple(low_res.shape)}")
    return F.interpolate(low_res, scale_factor=factor, mode="bicubic", align_corners=False).clamp(-1, 1)


class LowResConditionedUNet(nn.Module):
    """`net(x, noise_level, low_res) -> out`: the UNet on the channels of x and of the enlarged low-res image."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        check_upscaler_unet(cfg)
        self.cfg = cfg
        self.unet = UNet(cfg)
        self.unet.mid[0].attn = None  # the one attention block a UNet always has: convolutions only

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, low_res: torch.Tensor) -> torch.Tensor:
        if low_res.shape != x.shape:
            raise ValueError(f"low_res must be the low-resolution image enlarged to x's shape {tuple(x.shape)}, "
                             f"got {tuple(low_res.shape)}")
        return self.unet(torch.cat([x, low_res.to(x.dtype)], dim=1), noise_level)  # (N, 3, H, W)
