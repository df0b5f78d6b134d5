"""Hires fix: draw at the model's own size, upscale, then redraw the details by image-to-image at low strength.

AUTOMATIC1111's "Hires. fix" (stable-diffusion-webui, processing.py, the txt2img hires pass):
a model makes its best compositions at the size it was trained at, so the first pass
draws there; the result is enlarged, either in latent space (the webui's "Latent"
upscalers: torch interpolation of the latents) or in pixel space (Lanczos, bicubic,
nearest: the decoded image resized, then encoded again); a second pass then noises it
to the sigma that `strength` selects and denoises from there. That second pass is
image-to-image, SDEdit (Meng et al. 2022, "SDEdit: Guided Image Synthesis and Editing
with Stochastic Differential Equations"): at low strength the layout of the first pass
stays and only the detail at the new size is redrawn.

The second pass draws fresh noise from the same seeds at the new size, as the webui does,
and runs the last int(steps * strength) of `steps` steps (editing.first_step); steps 0 means
the first pass's. At strength 0 it runs none: the result is the upscaled latents decoded
(the pixel upscalers: the upscaled image after one VAE encode and decode).
A size given as `resize_x` x `resize_y` instead of a scale is reached as the webui reaches
it: scaled to cover it, the overflow cropped equally from both sides.

The "sr" upscaler is a trained super-resolution model (pipeline/upscaler.py, SR3), given as
`upscaler_model`: it enlarges the decoded first pass by its factor (each image from its own seed),
and the result is fitted to the final size by Lanczos, as the webui fits its ESRGAN and LDSR
upscalers' fixed-factor output. It takes first passes of its own input side only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from pixeldrift.pipeline.editing import first_step
from pixeldrift.pipeline.pixels import images_to_pixels
from pixeldrift.sampling.sigma_schedules import MAX_STEPS

MAX_SCALE = 4.0
# name -> (the webui's name, where it upscales, how): the webui's latent modes and pixel resamplers
UPSCALERS = {
    "latent": ("Latent", "latent", ("bilinear", False)),
    "latent-antialiased": ("Latent (antialiased)", "latent", ("bilinear", True)),
    "latent-bicubic": ("Latent (bicubic)", "latent", ("bicubic", False)),
    "latent-bicubic-antialiased": ("Latent (bicubic antialiased)", "latent", ("bicubic", True)),
    "latent-nearest": ("Latent (nearest)", "latent", ("nearest", False)),
    "latent-nearest-exact": ("Latent (nearest-exact)", "latent", ("nearest-exact", False)),
    "lanczos": ("Lanczos", "pixel", Image.Resampling.LANCZOS),
    "bicubic": ("Bicubic", "pixel", Image.Resampling.BICUBIC),
    "nearest": ("Nearest", "pixel", Image.Resampling.NEAREST),
    "sr": ("SR3", "model", Image.Resampling.LANCZOS),   # the trained upscaler_model, then fitted by Lanczos
}


class HiresError(ValueError):
    """A hires fix setting that cannot be used; `field` names it: scale, upscaler, strength, steps or resize."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class HiresFix:
    """A second, larger pass after text-to-image; the request's width and height are the first pass's."""

    scale: float = 2.0          # 1 < scale <= 4; ignored when resize_x or resize_y is given
    upscaler: str = "latent"    # a key of UPSCALERS
    strength: float = 0.7       # the webui's default for hires; 0 keeps the upscaled image
    steps: int = 0              # second-pass steps; 0 = the first pass's
    resize_x: int = 0           # the final size instead of a scale; 0 = from the other side and the aspect
    resize_y: int = 0
    # the "sr" upscaler's trained model (pipeline/upscaler.Upscaler); None for the others
    upscaler_model: object = field(default=None, compare=False, repr=False)

    def check(self) -> None:
        """HiresError naming the first setting that is out of bounds (the size is checked in target_size)."""
        if isinstance(self.scale, bool) or not isinstance(self.scale, (int, float)) or not math.isfinite(self.scale) \
                or not 1 < self.scale <= MAX_SCALE:
            raise HiresError("scale", f"hires scale must be a number above 1 and at most {MAX_SCALE:g}, "
                                      f"got {self.scale!r}")
        if self.upscaler not in UPSCALERS:
            raise HiresError("upscaler", f"unknown hires upscaler {self.upscaler!r}; accepted: {', '.join(UPSCALERS)}")
        if (UPSCALERS[self.upscaler][1] == "model") != (self.upscaler_model is not None):
            raise HiresError("upscaler", "the 'sr' hires upscaler, and it alone, takes a trained upscaler model "
                                         f"(an upscaler folder); got upscaler {self.upscaler!r} with "
                                         f"{'no model' if self.upscaler_model is None else 'a model'}")
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)) \
                or not math.isfinite(self.strength) or not 0 <= self.strength <= 1:
            raise HiresError("strength", f"hires strength must be a number from 0 to 1, got {self.strength!r}")
        if type(self.steps) is not int or not 0 <= self.steps <= MAX_STEPS:
            raise HiresError("steps", f"hires steps must be an integer from 0 (the first pass's) to {MAX_STEPS}, "
                                      f"got {self.steps!r}")
        for side in (self.resize_x, self.resize_y):
            if type(side) is not int or not 0 <= side <= 100_000:
                raise HiresError("resize", f"hires resize sides must be integers from 0 (from the aspect) "
                                           f"up, got {side!r}")

    def target_size(self, width: int, height: int, limits) -> tuple[int, int]:
        """The final (width, height) from a first pass of width x height; each side rounded down to the
        model's size multiple, and refused past the model's (or server's) max_side."""
        self.check()
        field = "resize" if self.resize_x or self.resize_y else "scale"
        if field == "scale":
            wide, high = int(width * self.scale), int(height * self.scale)
        else:
            wide = self.resize_x or self.resize_y * width // height
            high = self.resize_y or self.resize_x * height // width
        self._check_model_input(width, height)
        m = limits.size_multiple
        wide, high = wide // m * m, high // m * m
        asked = f"hires {field} {self.scale:g}" if field == "scale" else \
            f"hires resize {self.resize_x}x{self.resize_y}"
        cover = max(wide / width, high / height)
        if min(wide, high) < m or not 1 < cover <= MAX_SCALE:
            raise HiresError(field, f"{asked} makes {wide}x{high} from {width}x{height} (sides rounded down to "
                                    f"multiples of {m}); the hires fix enlarges by more than 1 and at most "
                                    f"{MAX_SCALE:g} times")
        if max(wide, high) > limits.max_side:
            raise HiresError(field, f"{asked} makes {wide}x{high} from {width}x{height}; at most {limits.max_side} "
                                    f"pixels a side here")
        return wide, high

    def _check_model_input(self, width: int, height: int) -> None:
        """The trained upscaler takes first passes of its own input side alone."""
        if self.upscaler_model is None:
            return
        side = self.upscaler_model.config.low_res_size
        if (width, height) != (side, side):
            raise HiresError("upscaler", f"the upscaler {self.upscaler_model.name!r} enlarges {side}x{side} images; "
                                         f"this first pass is {width}x{height}")

    def describe(self) -> dict[str, str]:
        """The webui's parameters for it, in its order: Denoising strength, Hires upscale (or resize),
        Hires steps (when not the first pass's), Hires upscaler."""
        size = {"Hires resize": f"{self.resize_x}x{self.resize_y}"} if self.resize_x or self.resize_y else \
            {"Hires upscale": f"{self.scale:g}"}
        steps = {"Hires steps": str(self.steps)} if self.steps else {}
        upscaler = UPSCALERS[self.upscaler][0]
        model = {} if self.upscaler_model is None else {"Hires upscaler model": self.upscaler_model.name}
        return {"Denoising strength": str(self.strength), **size, **steps, "Hires upscaler": upscaler, **model}


def check_request(r, limits) -> None:
    """What a hires fix cannot be combined with, and its final size; for a request with its size filled in."""
    for name in ("init_image", "mask"):
        if getattr(r, name) is not None:
            raise ValueError(f"the hires fix enlarges a text-to-image generation; it takes no {name}")
    if r.controls:
        raise ValueError("the hires fix does not yet take ControlNet controls (the second pass would need the "
                         "control images at the new size)")
    if not isinstance(r.hires, HiresFix):
        raise ValueError(f"hires must be a HiresFix, got {type(r.hires).__name__}")
    r.hires.target_size(r.width, r.height, limits)


def steps_run(r) -> int:
    """Sampler steps (callbacks) a validated request runs: image-to-image only the last ones of its steps,
    a hires fix its first pass and then the last ones of its second."""
    if r.hires is not None:
        second = r.hires.steps or r.steps
        return r.steps + second - first_step(second, r.hires.strength)
    if r.init_image is None or r.strength >= 1:
        return r.steps
    return r.steps - first_step(r.steps, r.strength)


def sample(model, prompts: list[str], seeds: list[int], r, callback=None, *, moderated: bool = False,
           steer=None) -> list[Image.Image]:
    """Both passes for a validated request with a hires fix; the callback's step counts on across them."""
    latents, _ = model.sample_latents(prompts, seeds, replace(r, hires=None), callback, moderated=moderated,
                                      steer=steer)
    shifted = None if callback is None else lambda i, x, denoised: callback(r.steps + i, x, denoised)
    return second_pass(model, prompts, seeds, r, latents, shifted, steer=steer)


@torch.no_grad()
def second_pass(model, prompts: list[str], seeds: list[int], r, latents: torch.Tensor, callback=None, *,
                steer=None) -> list[Image.Image]:
    """Upscale the first pass's clean latents and redraw them as r.hires says (prompts already moderated);
    several hires settings can share one first pass this way (bench/hires_fix.py)."""
    h = r.hires
    wide, high = h.target_size(r.width, r.height, model.limits)
    second = replace(r, hires=None, width=wide, height=high, steps=h.steps or r.steps, strength=h.strength)
    known = upscaled(model, latents, h, wide, high, seeds)
    latents, _ = model.sample_latents(prompts, seeds, second, callback, moderated=True, steer=steer, known=known)
    return model.to_images(latents)


def upscaled(model, latents: torch.Tensor, hires: HiresFix, width: int, height: int,
             seeds: list[int]) -> torch.Tensor:
    """The first pass's latents enlarged to those of a width x height image by the hires fix's upscaler
    (the trained one draws image i from seeds[i])."""
    _, space, how = UPSCALERS[hires.upscaler]
    if space == "latent":
        return fit_latents(latents, model.latent_shape(width, height)[1:], *how)
    images = model.to_images(latents)
    if space == "model":
        images = hires.upscaler_model.upscale_images(images, seeds)
    images = [ImageOps.fit(image, (width, height), how) for image in images]
    return model.pixels_to_latents(images_to_pixels(images).to(latents.device))


def fit_latents(latents: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool) -> torch.Tensor:
    """Latents (N, C, h, w) cropped to the aspect of `size` (centred, as ImageOps.fit crops), then resized."""
    h, w = latents.shape[-2:]
    high, wide = size
    if w * high > h * wide:    # wider than the target: crop the sides
        keep = max(1, round(h * wide / high))
        latents = latents[..., :, (w - keep) // 2:(w - keep) // 2 + keep]
    elif w * high < h * wide:  # taller: crop top and bottom
        keep = max(1, round(w * high / wide))
        latents = latents[..., (h - keep) // 2:(h - keep) // 2 + keep, :]
    return F.interpolate(latents, size=(high, wide), mode=mode, antialias=antialias)
