"""ControlNet for our UNet (Zhang, Rao & Agrawala 2023, "Adding Conditional Control to Text-to-Image
Diffusion Models").

A trainable copy of the UNet's encoder (noise embedding, input convolution, down
path, middle) sees the noisy latent plus the control image c, encoded to the
latent's resolution by a small convolutional hint encoder; zero-initialised 1x1
convolutions Z turn its features into one residual per skip connection of the
frozen UNet and one for its middle. In the paper's notation (eq. 2):

    y_c = F(x; Theta) + Z(F(x + Z(c; Theta_z1); Theta_c); Theta_z2)

with F(.; Theta) the frozen block, Theta_c its trainable copy and Z the zero
convolutions. Every Z starts at zero, so before training y_c = y exactly, and the
gradients still reach Theta_c through Z's weights from the first step.

    controlnet = ControlNet.from_unet(unet, ControlNetConfig(unet.cfg, image_factor=4))
    residuals = controlnet(x, noise_level, hint, context, context_mask)   # hint (N, 3, 4h, 4w) in [0, 1]
    out = unet(x, noise_level, context, context_mask, control=residuals)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.nets.config import MAX_CHANNELS, MAX_WIDTH, JsonConfig, check_sizes
from pixeldrift.nets.unet import UNet, UNetConfig, UNetEncoder, zero_init

MAX_FACTOR = 64  # control image side / latent side: 8 for Stable Diffusion's VAE, 4 for ours


@dataclass(frozen=True)
class ControlNetConfig(JsonConfig):
    """The base UNet's config (the copy has its encoder's shape), and the hint encoder's."""

    unet: UNetConfig
    image_factor: int = 4         # control image side / latent side (the VAE's downsampling; 1 on pixels)
    hint_channels: int = 3
    hint_width: int = 16          # channels of the hint encoder's first layer; doubled at every halving

    def __post_init__(self) -> None:
        check_sizes(self, {"image_factor": (1, MAX_FACTOR), "hint_channels": (1, MAX_CHANNELS),
                           "hint_width": (1, MAX_WIDTH)})
        if self.image_factor & (self.image_factor - 1):
            raise ValueError(f"image_factor must be a power of two, got {self.image_factor}")


class HintEncoder(nn.Module):
    """Control image (N, 3, H, W) in [0, 1] -> features (N, C0, H/f, W/f); its last layer starts at zero
    (the paper's Z(c; Theta_z1))."""

    def __init__(self, cfg: ControlNetConfig) -> None:
        super().__init__()
        width = cfg.hint_width
        layers: list[nn.Module] = [nn.Conv2d(cfg.hint_channels, width, 3, padding=1), nn.SiLU()]
        for _ in range(cfg.image_factor.bit_length() - 1):  # one stride-2 convolution per halving
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU(),
                       nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.SiLU()]
            width *= 2
        layers.append(zero_init(nn.Conv2d(width, cfg.unet.base_channels, 3, padding=1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, hint: torch.Tensor) -> torch.Tensor:
        return self.layers(hint)  # (N, C0, H/f, W/f)


class ControlNet(UNetEncoder):
    """`controlnet(x, noise_level, hint, context=None, context_mask=None) -> residuals` for UNet(control=...)."""

    def __init__(self, cfg: ControlNetConfig) -> None:
        super().__init__()
        _, skip_widths = self._build_encoder(cfg.unet)
        self.control_cfg = cfg
        self.hint_encoder = HintEncoder(cfg)
        top = cfg.unet.widths[-1]
        self.zero_convs = nn.ModuleList(zero_init(nn.Conv2d(w, w, 1)) for w in [*skip_widths, top])

    @classmethod
    def from_unet(cls, unet: UNet, cfg: ControlNetConfig | None = None) -> "ControlNet":
        """A ControlNet whose encoder copy starts from `unet`'s weights (its zero convolutions at zero)."""
        cfg = cfg or ControlNetConfig(unet.cfg)
        if cfg.unet != unet.cfg:
            raise ValueError("the ControlNet config describes another UNet than the one given")
        net = cls(cfg).to(next(unet.parameters()).device)
        copied = {k: v for k, v in unet.state_dict().items() if k in net.state_dict()}
        missing = net.load_state_dict(copied, strict=False).missing_keys
        own = [k for k in missing if not k.startswith(("hint_encoder.", "zero_convs."))]
        if own:
            raise ValueError(f"the UNet lacks encoder weights {own[:4]}")
        return net

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, hint: torch.Tensor,
                context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        self._check_hint(x, hint)
        h, skips, _ = self.encode(x, noise_level, context, context_mask, hint=self.hint_encoder(hint))
        return [zero(feature) for zero, feature in zip(self.zero_convs, [*skips, h])]  # skips..., middle

    def _check_hint(self, x: torch.Tensor, hint: torch.Tensor) -> None:
        f, channels = self.control_cfg.image_factor, self.control_cfg.hint_channels
        expected = (x.shape[0], channels, x.shape[2] * f, x.shape[3] * f)
        if hint.ndim != 4 or tuple(hint.shape) != expected:
            raise ValueError(f"the control image must have shape {expected} ({f}x the latent's sides), "
                             f"got {tuple(hint.shape)}")

