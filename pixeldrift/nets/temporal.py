"""A video denoiser: the image UNet's layers, with attention across frames after each of its stages.

Video LDM (Blattmann et al. 2023, "Align your Latents", sec. 3.1) turns a trained image LDM into a
video model by interleaving temporal layers l_phi between its spatial layers l_theta: the spatial
layers see every frame as an image of the batch (B*T, C, H, W), a temporal layer rearranges the
features to (B*H*W, T, C) and mixes the frames at each position. Each temporal block's output
projection starts at zero, so the video model starts as the image model applied frame by frame
(their alpha-blend set to the spatial output; AnimateDiff, Guo et al. 2024, zero-initialises the
same way).

Here a temporal block is self-attention over the frames with a learnt embedding of the frame's
place in the clip, plus the clip's pooled text: the spatial cross-attention reads the caption frame
by frame and cannot tell a frame where in the motion it is, so the motion words ("moving left",
"falling") reach the temporal layers through that pooled vector.

Interface: net(x (N, F, C, H, W), noise_level (N, F), context (N, L, D), context_mask (N, L))
-> (N, F, C, H, W). Each frame has its own noise level: a given first frame (image-to-video) is
passed at a near-zero level while the others are noisy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.nets.config import JsonConfig, check_sizes
from pixeldrift.nets.unet import Downsample, Stage, UNet, Upsample, zero_init

MAX_CLIP_FRAMES = 64


@dataclass(frozen=True)
class TemporalConfig(JsonConfig):
    """The temporal layers added to a UNet: one block after each of its stages."""

    max_frames: int = 16    # the longest clip the frame embedding covers
    head_channels: int = 32  # channels per attention head (as the UNet's own attention)
    mlp_ratio: int = 2
    shared_noise: float = 0.0  # alpha of the mixed noise prior the model was trained with (pipeline/video_model.py)

    def __post_init__(self) -> None:
        check_sizes(self, {"max_frames": (1, MAX_CLIP_FRAMES), "head_channels": (1, 1024), "mlp_ratio": (1, 8)})
        if isinstance(self.shared_noise, bool) or not isinstance(self.shared_noise, (int, float)) or \
                not 0 <= self.shared_noise <= 10:
            raise ValueError(f"TemporalConfig.shared_noise must be a number from 0 to 10, got {self.shared_noise!r}")


def sinusoidal_table(positions: int, width: int) -> torch.Tensor:
    """(positions, width): the transformer's sine/cosine position code (Vaswani et al. 2017, sec. 3.5)."""
    half = width // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half) / max(half, 1))
    angles = torch.arange(positions)[:, None].float() * frequencies[None]
    table = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(table, (0, width - table.shape[1]))


class TemporalBlock(nn.Module):
    """Attention across the frames at every position of a feature map, then an MLP; zero at start."""

    def __init__(self, channels: int, text_dim: int, cfg: TemporalConfig, groups: int) -> None:
        super().__init__()
        heads = max(1, channels // cfg.head_channels)
        self.norm_in = nn.GroupNorm(groups, channels)
        self.frame_embed = nn.Parameter(sinusoidal_table(cfg.max_frames, channels) * 0.1)
        self.text_proj = nn.Linear(text_dim, channels)
        self.norm_attn = nn.LayerNorm(channels)
        self.attn = MultiHeadAttention(channels, heads)
        self.norm_mlp = nn.LayerNorm(channels)
        hidden = cfg.mlp_ratio * channels
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))
        self.proj_out = zero_init(nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor, frames: int, text: torch.Tensor) -> torch.Tensor:
        """x (N*F, C, H, W) with a clip's frames consecutive; text (N, D) the clip's pooled caption."""
        nf, c, height, width = x.shape
        n = nf // frames
        # contiguous: torch's CPU GroupNorm backward crashes on a channels-last input that needs no gradient
        # (the spatial layers' output when they are frozen, train/video.py)
        h = self.norm_in(x.contiguous()).reshape(n, frames, c, height * width).permute(0, 3, 1, 2)  # (N, HW, F, C)
        h = h + self.frame_embed[:frames] + self.text_proj(text)[:, None, None, :]
        h = h.reshape(n * height * width, frames, c)
        h = h + self.attn(self.norm_attn(h))
        h = h + self.mlp(self.norm_mlp(h))
        h = self.proj_out(h).reshape(n, height * width, frames, c).permute(0, 2, 3, 1)  # (N, F, C, HW)
        return x + h.reshape(nf, c, height, width)


def pooled_text(context: torch.Tensor | None, mask: torch.Tensor | None, n: int, width: int,
                like: torch.Tensor) -> torch.Tensor:
    """(N, D): the mean of each caption's real tokens (zeros when there is no text)."""
    if context is None:
        return like.new_zeros(n, width)
    if mask is None:
        return context.mean(dim=1)
    weights = mask.to(context.dtype)[..., None]  # (N, L, 1)
    return (context * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class VideoUNet(nn.Module):
    """A UNet (`spatial`, its weights as the image model's) with a TemporalBlock after every stage."""

    def __init__(self, spatial: UNet, cfg: TemporalConfig = TemporalConfig()) -> None:
        super().__init__()
        if spatial.cfg.context_dim is None:
            raise ValueError("the video UNet needs a text-conditioned UNet (context_dim set)")
        self.spatial, self.cfg = spatial, cfg
        stages = [m for m in [*spatial.down, *spatial.mid, *spatial.up] if isinstance(m, Stage)]
        self.temporal = nn.ModuleList(
            TemporalBlock(stage.res.conv1.out_channels, spatial.cfg.context_dim, cfg, spatial.cfg.norm_groups)
            for stage in stages)

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None, control: list[torch.Tensor] | None = None) -> torch.Tensor:
        """`control`: a ControlNet's residuals for every frame ((N*F, ...) each, sampling/video_control.py),
        added to the skips and the middle as UNet.forward adds them; None leaves the network as it is."""
        n, frames = self._check(x, noise_level)
        text = pooled_text(context, context_mask, n, self.spatial.cfg.context_dim, x)
        if context is not None:  # every frame of a clip reads its clip's caption
            context = context.repeat_interleave(frames, dim=0)
            context_mask = None if context_mask is None else context_mask.repeat_interleave(frames, dim=0)
        unet, blocks = self.spatial, iter(self.temporal)
        h, emb = unet.conv_in(x.flatten(0, 1)), unet.noise_embed(noise_level.reshape(-1))
        skips = [h]

        def stage(layer: Stage, h: torch.Tensor) -> torch.Tensor:
            return next(blocks)(layer(h, emb, context, context_mask), frames, text)

        for layer in unet.down:
            h = layer(h) if isinstance(layer, Downsample) else stage(layer, h)
            skips.append(h)
        for layer in unet.mid:
            h = stage(layer, h)
        if control is not None:
            h, skips = unet._add_control(h, skips, control)
        for layer in unet.up:
            h = layer(h) if isinstance(layer, Upsample) else stage(layer, torch.cat([h, skips.pop()], dim=1))
        out = unet.conv_out(F.silu(unet.norm_out(h)))  # (N*F, C, H, W)
        return out.reshape(n, frames, *out.shape[1:])

    def _check(self, x: torch.Tensor, noise_level: torch.Tensor) -> tuple[int, int]:
        cfg = self.spatial.cfg
        if x.ndim != 5 or x.shape[2] != cfg.in_channels:
            raise ValueError(f"x must have shape (N, frames, {cfg.in_channels}, H, W), got {tuple(x.shape)}")
        n, frames = x.shape[:2]
        if not 1 <= frames <= self.cfg.max_frames:
            raise ValueError(f"{frames} frames; this video UNet takes 1 to {self.cfg.max_frames}")
        if x.shape[3] % cfg.downsample_factor or x.shape[4] % cfg.downsample_factor:
            raise ValueError(f"height and width must be multiples of {cfg.downsample_factor}, got "
                             f"{tuple(x.shape[3:])}")
        if noise_level.shape != (n, frames):
            raise ValueError(f"noise_level must have shape ({n}, {frames}): one per frame, got "
                             f"{tuple(noise_level.shape)}")
        return n, frames
