"""What one generate() call asks for, checked before any work starts, and what it returns.

The same request drives text-to-image, image-to-image (`init_image` + `strength`),
inpainting (`mask`, white = repaint), variations (`variation_seed`), ControlNet
(`controls`) and the hires fix (`hires`: a second, larger pass), so the CLI,
the Python API and the server all speak one vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from pixeldrift.nets.config import JsonConfig
from pixeldrift.pipeline import hires_fix
from pixeldrift.pipeline.control import check_controls
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.safety.moderation import MAX_PROMPT_CHARS
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES, check_steps

MAX_BATCH = 64
MAX_SIDE = 2048
MAX_RESAMPLE = 20
MAX_MASK_BLUR = 64
MAX_EXCITE = 100.0


@dataclass(frozen=True)
class SamplingDefaults(JsonConfig):
    """A model's own sampling settings, used where a request leaves them out."""

    sampler: str = "dpmpp_2m"
    schedule: str = "karras"
    steps: int = 20
    guidance: float = 4.0
    excite: float = 0.0   # Attend-and-Excite scale (pipeline/attend_and_excite.py); 0 = off
    sigma_min: float = 0.002
    sigma_max: float = 80.0

    @classmethod
    def from_dict(cls, data):
        """Strict as every config, except that folders from before Attend-and-Excite (no 'excite') had it off."""
        if isinstance(data, dict) and "excite" not in data:
            data = {**data, "excite": 0.0}
        return super().from_dict(data)


@dataclass(frozen=True)
class ModelLimits:
    """What a model can make: its default size and the multiple every side must be."""

    default_width: int
    default_height: int
    size_multiple: int
    max_side: int = MAX_SIDE

    def accepts_side(self, side: int) -> bool:
        """Whether the model can make an image side this long: a multiple of size_multiple up to max_side."""
        return type(side) is int and side % self.size_multiple == 0 and self.size_multiple <= side <= self.max_side


@dataclass(frozen=True)
class GenerationRequest:
    """One call of generate(); None means the model's own default."""

    prompt: str
    negative_prompt: str = ""
    steps: int | None = None
    sampler: str | None = None
    schedule: str | None = None
    guidance: float | None = None
    guidance_rescale: float = 0.0
    excite: float | None = None       # Attend-and-Excite scale: every subject word gets part of the image
    seed: int = 0
    batch_size: int = 1
    width: int | None = None          # pixels; the init image's, else the model's own, by default
    height: int | None = None
    # image-to-image: start from this image noised to the sigma that `strength` selects (SDEdit)
    init_image: Image.Image | None = field(default=None, compare=False, repr=False)
    strength: float = 0.75            # 0 keeps the input, 1 ignores it
    # inpainting: white pixels are repainted, black kept; same size as the init image
    mask: Image.Image | None = field(default=None, compare=False, repr=False)
    mask_blur: int = 4                # feathering of the mask edge, in pixels
    resample: int = 1                 # RePaint: times each step is redone after re-noising (1 = off)
    # variations: blend the seed's noise with another seed's noise
    variation_seed: int | None = None
    variation_strength: float = 0.0
    # ControlNet: pipeline.control.Control entries, their residuals summed (several controls at once)
    controls: tuple = field(default=(), compare=False, repr=False)
    # hires fix (pipeline/hires_fix.py): width x height is the first pass, then upscaled and redrawn
    hires: hires_fix.HiresFix | None = None

    def validated(self, defaults: SamplingDefaults, limits: ModelLimits) -> "GenerationRequest":
        """A copy with every default filled in; ValueError naming the first bad field otherwise."""
        self._check_text_and_counts()
        self._check_editing()
        width, height = self._size(limits)
        check_controls(self.controls, width, height)
        own = lambda name: getattr(defaults, name) if getattr(self, name) is None else getattr(self, name)
        filled = replace(self, steps=own("steps"), sampler=own("sampler"), schedule=own("schedule"),
                         guidance=own("guidance"), excite=own("excite"), width=width, height=height)
        check_steps(filled.steps)
        get_sampler(filled.sampler)
        if filled.schedule not in SIGMA_SCHEDULES:
            raise ValueError(f"unknown schedule {filled.schedule!r}; choose one of {', '.join(SIGMA_SCHEDULES)}")
        _check_range("guidance scale", filled.guidance, 0, 50)
        _check_range("Attend-and-Excite scale", filled.excite, 0, MAX_EXCITE)
        if filled.hires is not None:
            hires_fix.check_request(filled, limits)
        return filled

    @property
    def is_image_to_image(self) -> bool:
        return self.init_image is not None

    def _check_text_and_counts(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError("the prompt is empty; describe the image to generate")
        if not isinstance(self.negative_prompt, str):
            raise ValueError("the negative prompt must be text")
        if len(self.prompt) > MAX_PROMPT_CHARS or len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"prompts are limited to {MAX_PROMPT_CHARS} characters")
        _check_int("batch size", self.batch_size, 1, MAX_BATCH)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_range("guidance rescale", self.guidance_rescale, 0, 1)

    def _check_editing(self) -> None:
        _check_range("strength", self.strength, 0, 1)
        _check_int("mask blur", self.mask_blur, 0, MAX_MASK_BLUR)
        _check_int("resample", self.resample, 1, MAX_RESAMPLE)
        _check_range("variation strength", self.variation_strength, 0, 1)
        if self.variation_seed is not None:
            _check_int("variation seed", self.variation_seed, 0, 2**63 - 1)
        for name in ("init_image", "mask"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Image.Image):
                raise ValueError(f"{name} must be a PIL image, got {type(value).__name__}")
        if self.mask is not None and self.init_image is None:
            raise ValueError("a mask needs an init image: the mask says which part of that image to repaint")
        if self.mask is not None and self.mask.size != self.init_image.size:
            raise ValueError(f"the mask is {_wxh(self.mask.size)} but the image is {_wxh(self.init_image.size)}; "
                             "give a mask of the same size (it is not resized, so nothing shifts silently)")

    def _size(self, limits: ModelLimits) -> tuple[int, int]:
        if self.init_image is not None:
            natural = self.init_image.size
        else:
            natural = (limits.default_width, limits.default_height)
        width = natural[0] if self.width is None else self.width
        height = natural[1] if self.height is None else self.height
        m = limits.size_multiple
        for name, side in (("width", width), ("height", height)):
            if not limits.accepts_side(side):
                source = " (taken from the init image; pass width and height to resize it)" \
                    if self.init_image is not None and getattr(self, name) is None else ""
                raise ValueError(f"{name} must be a multiple of {m} from {m} to {limits.max_side}, "
                                 f"got {side}{source}")
        return width, height


@dataclass
class GeneratedImage:
    image: Image.Image
    record: GenerationRecord
    extra: dict = field(default_factory=dict)

    def save(self, path: str | Path, watermark: bool = True) -> Path:
        """Write a labelled PNG: watermark, A1111 parameters, AI-generated statement (provenance/label.py)."""
        return save_labelled_png(self.image, path, self.record, watermark=watermark)


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _check_int(name: str, value, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")


def _check_range(name: str, value, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low} to {high}, got {value!r}")
