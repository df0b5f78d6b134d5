"""A super-resolution diffusion model (SR3): an image enlarged `factor` times by sampling a denoiser conditioned on it.

Saharia et al. 2021 ("Image Super-Resolution via Iterative Refinement", Algorithms 1 and 2) train a
denoiser on (low-resolution, high-resolution) pairs and sample from pure noise at the high
resolution, every step seeing the bicubic enlargement of the low-resolution image. Here the denoiser
is EDM's preconditioned x0-predictor (Karras et al. 2022, Table 1: c_skip, c_out, c_in, c_noise)
around nets/upscaler.LowResConditionedUNet, called through the one interface
D(x, sigma, low_res=ENLARGED), so every sampler of sampling/samplers.py runs it with the enlarged
image as its extra argument. No guidance: the condition is an image, and there is no prompt.

By default the network predicts only the detail the enlargement lacks, x0 - ENLARGED (SRDiff's
residual prediction, Li et al. 2022, "SRDiff: Single Image Super-Resolution with Diffusion
Probabilistic Models"): on world scenes that residual is zero but at edges (standard deviation
0.13-0.15 against the images' 0.5, whence sigma_data), so a short training starts from bicubic's
answer instead of from nothing. `residual=False` predicts the whole image, as SR3 does.

Image i of a batch starts from the noise of seed i alone (drawn on the CPU), so it is reproducible
on its own; stochastic samplers draw from the first seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from PIL import Image
from torch import nn

from pixeldrift.bounded_files import check_number
from pixeldrift.diffusion.parameterization import EDMDenoiser
from pixeldrift.nets.config import JsonConfig
from pixeldrift.nets.unet import UNetConfig
from pixeldrift.nets.upscaler import UPSCALER_PRESETS, LowResConditionedUNet, check_upscaler_unet, enlarge
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_images
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import check_steps, make_sigmas

SCHEDULES = ("karras", "exponential")  # the schedules that need only the model's sigma range
MAX_LOW_RES_SIDE, MAX_NAME = 256, 200
MAX_BATCH = 64


@dataclass(frozen=True)
class UpscalerConfig(JsonConfig):
    """Everything needed to rebuild an upscaler; its folder's weights hold the rest."""

    name: str = "upscaler"
    unet: UNetConfig = field(default_factory=lambda: UPSCALER_PRESETS["small"])
    factor: int = 4            # each side is enlarged this many times
    low_res_size: int = 64     # the side of the square images it takes; it makes low_res_size * factor
    residual: bool = True      # the network predicts x0 - the enlargement (SRDiff); False: x0 itself (SR3)
    sigma_data: float = 0.15   # EDM's preconditioning: the std of what is predicted (world residuals 0.13-0.15;
                               # whole images 0.5)
    sampler: str = "dpmpp_2m"  # the sampling defaults
    schedule: str = "karras"
    steps: int = 20
    sigma_min: float = 0.002
    sigma_max: float = 80.0

    def __post_init__(self) -> None:
        if not isinstance(self.residual, bool):
            raise ValueError(f"residual must be true or false, got {self.residual!r}")
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME:
            raise ValueError(f"name must be text of 1 to {MAX_NAME} characters, got {str(self.name)[:80]!r}")
        check_upscaler_unet(self.unet)
        check_number(self.factor, 2, 8, "factor")
        check_number(self.low_res_size, 8, MAX_LOW_RES_SIDE, "low_res_size")
        if self.low_res_size * self.factor % self.unet.downsample_factor:
            raise ValueError(f"the output side {self.low_res_size * self.factor} must be a multiple of the UNet's "
                             f"downsampling factor {self.unet.downsample_factor}")
        check_number(self.sigma_data, 1e-3, 10, "sigma_data", integer=False)
        check_number(self.sigma_max, 1e-3, 1e4, "sigma_max", integer=False)
        check_number(self.sigma_min, 1e-5, 1e4, "sigma_min", integer=False)
        if not self.sigma_min < self.sigma_max:
            raise ValueError(f"sigma_min must be below sigma_max, got {self.sigma_min} and {self.sigma_max}")
        UpscaleSettings(self.sampler, self.steps, self.schedule).filled(self)


@dataclass(frozen=True)
class UpscaleSettings:
    """How to sample one upscaling; None: the model's own default."""

    sampler: str | None = None
    steps: int | None = None
    schedule: str | None = None

    def filled(self, config: UpscalerConfig) -> "UpscaleSettings":
        """A copy with the model's defaults filled in; ValueError naming the first bad setting."""
        own = lambda name: getattr(config, name) if getattr(self, name) is None else getattr(self, name)  # noqa: E731
        filled = replace(self, sampler=own("sampler"), steps=own("steps"), schedule=own("schedule"))
        get_sampler(filled.sampler)
        check_steps(filled.steps)
        if filled.schedule not in SCHEDULES:
            raise ValueError(f"unknown upscaler schedule {filled.schedule!r}; accepted: {', '.join(SCHEDULES)}")
        return filled


class ResidualEDMDenoiser(EDMDenoiser):
    """D(x, sigma, low_res) = low_res + D_r(x - low_res, sigma, low_res), D_r EDM's: the network predicts the
    residual. As x = x0 + sigma eps, x - low_res is the residual x0 - low_res noised at the same sigma, so the
    samplers, the prior and the loss all stay in image space."""

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, low_res: torch.Tensor) -> torch.Tensor:
        return low_res + super().forward(x - low_res, sigma, low_res=low_res)


class Upscaler(nn.Module):
    """`upscale(low_res, seeds)`: (N, 3, s, s) in [-1, 1] -> (N, 3, s * factor, s * factor), s = low_res_size."""

    def __init__(self, config: UpscalerConfig):
        super().__init__()
        self.config = config
        kind = ResidualEDMDenoiser if config.residual else EDMDenoiser
        self.denoiser = kind(LowResConditionedUNet(config.unet), config.sigma_data)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def out_size(self) -> int:
        return self.config.low_res_size * self.config.factor

    def condition(self, low_res: torch.Tensor) -> dict[str, torch.Tensor]:
        """The denoiser's extra arguments for a batch of low-resolution images: their bicubic enlargement."""
        side = self.config.low_res_size
        if low_res.ndim != 4 or tuple(low_res.shape[1:]) != (3, side, side):
            raise ValueError(f"the upscaler {self.name!r} takes images of {side}x{side} pixels, as (N, 3, {side}, "
                             f"{side}); got shape {tuple(low_res.shape)}")
        return {"low_res": enlarge(low_res.to(self.device, torch.float32), self.config.factor)}

    def sigmas(self, settings: UpscaleSettings) -> torch.Tensor:
        return make_sigmas(settings.schedule, settings.steps, self.config.sigma_min, self.config.sigma_max)

    @torch.no_grad()
    def upscale(self, low_res: torch.Tensor, seeds: list[int], settings: UpscaleSettings = UpscaleSettings(),
                callback=None) -> torch.Tensor:
        """Sample each image's enlargement from its seed's noise; (N, 3, S, S) in [-1, 1]."""
        settings = settings.filled(self.config)
        extra = self.condition(low_res)
        if len(seeds) != low_res.shape[0] or not 1 <= len(seeds) <= MAX_BATCH:
            raise ValueError(f"need one seed per image, 1 to {MAX_BATCH} images; got {len(seeds)} seeds for "
                             f"{low_res.shape[0]} images")
        torch.set_flush_denormal(True)  # denormal floats are ~100x slower on CPUs and invisible in images
        sigmas = self.sigmas(settings).to(self.device)
        noise = torch.stack([unit_noise(self.out_size, seed) for seed in seeds]).to(self.device)
        x = noise / self.denoiser.input_scale(sigmas[:1])  # the prior at sigmas[0], as every pipeline starts
        generator = torch.Generator().manual_seed(seeds[0])
        out = get_sampler(settings.sampler)(self.denoiser, x, sigmas, extra_args=extra, callback=callback,
                                            generator=generator)
        return out.clamp(-1, 1)

    def upscale_images(self, images: list[Image.Image], seeds: list[int],
                       settings: UpscaleSettings = UpscaleSettings(), callback=None) -> list[Image.Image]:
        """upscale() on RGB images of low_res_size pixels a side; ValueError naming any other size."""
        side = self.config.low_res_size
        for image in images:
            if image.size != (side, side):
                raise ValueError(f"the upscaler {self.name!r} takes {side}x{side} images, got "
                                 f"{image.width}x{image.height}")
        return pixels_to_images(self.upscale(images_to_pixels(images), seeds, settings, callback))

    def record(self, settings: UpscaleSettings, seed: int, source: str) -> GenerationRecord:
        """The label of an upscaled image: its sampling, and what it was enlarged from, in `extra`."""
        s = settings.filled(self.config)
        side = self.out_size
        return GenerationRecord(prompt="", steps=s.steps, sampler=s.sampler, cfg_scale=1.0, seed=seed, width=side,
                                height=side, model=self.name,
                                extra={"Schedule type": s.schedule, "Upscale": f"{self.config.factor}x",
                                       "Upscaled from": source})


def unit_noise(side: int, seed: int) -> torch.Tensor:
    """(3, side, side) standard normal noise from a CPU generator: the same on every device."""
    return torch.randn((3, side, side), generator=torch.Generator().manual_seed(seed))
