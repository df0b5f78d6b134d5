"""ControlNet at generation time: a request's controls, checked, turned into the sampling wrapper.

A `Control` names a loaded ControlNet folder, its control image (already a map: see
control_maps.py to make one), a strength and the fraction of the steps where it acts.
`controlled(model, denoiser, request, sigmas)` returns the request's denoiser wrapped with
every control's residuals (sampling/control.py), or the denoiser itself when there are none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from PIL import Image

from pixeldrift.pipeline.pixels import images_to_pixels
from pixeldrift.sampling.control import ControlDenoiser, ControlUnit, sigma_range

MAX_CONTROLS = 4
MAX_STRENGTH = 5.0


@dataclass(frozen=True)
class Control:
    """One ControlNet and its control image for a GenerationRequest."""

    model: object                    # a ControlModel (pipeline/controlnet_folder.py)
    image: Image.Image | tuple[Image.Image, ...] = field(repr=False)  # one map for all, or one per image
    strength: float = 1.0            # scales its residuals; 0 is the base model
    start: float = 0.0               # acts from this fraction of the steps ...
    end: float = 1.0                 # ... to this one
    resize: bool = False             # resize an image of another size (else it is refused)
    module: str = ""                 # the preprocessor that made the map, for the record ("" = the model's kind)

    def check(self, width: int, height: int, index: int) -> None:
        """ValueError naming control `index` and its bad field."""
        where = f"control {index + 1}"
        if not hasattr(self.model, "net") or not hasattr(self.model, "check_base"):
            raise ValueError(f"{where}: model must be a loaded ControlNet folder (load_controlnet)")
        images = self.images
        if not images or not all(isinstance(image, Image.Image) for image in images):
            raise ValueError(f"{where}: the control image must be a PIL image (or a tuple of them, one per image)")
        check_strength_and_range(where, self.strength, self.start, self.end)
        wrong = next((image.size for image in images if image.size != (width, height)), None)
        if wrong is not None and not self.resize:
            raise ValueError(f"{where}: the control image is {wrong[0]}x{wrong[1]} but the image to generate is "
                             f"{width}x{height}; give a map of that size, or ask for it to be resized "
                             "(--control-resize; a unit's resize_mode in the AUTOMATIC1111 API)")

    @property
    def images(self) -> tuple:
        return (self.image,) if isinstance(self.image, Image.Image) else tuple(self.image)


def check_strength_and_range(where: str, strength: float, start: float, end: float) -> None:
    """ValueError naming `where` unless 0 <= strength <= MAX_STRENGTH and 0 <= start < end <= 1."""
    for name, value, high in (("strength", strength, MAX_STRENGTH), ("start", start, 1.0), ("end", end, 1.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value <= high:
            raise ValueError(f"{where}: {name} must be a number from 0 to {high:g}, got {value!r}")
    if start >= end:
        raise ValueError(f"{where}: start ({start}) must come before end ({end})")


def check_controls(controls, width: int, height: int) -> None:
    if not isinstance(controls, (tuple, list)) or len(controls) > MAX_CONTROLS:
        raise ValueError(f"controls must be a list of at most {MAX_CONTROLS} Control entries")
    for index, control in enumerate(controls):
        if not isinstance(control, Control):
            raise ValueError(f"control {index + 1} must be a Control, got {type(control).__name__}")
        control.check(width, height, index)


def hint_tensor(images, width: int, height: int) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1], each image resized (Lanczos, as diffusers' ControlNet pipelines do) if the
    check allowed another size."""
    images = [image.convert("RGB") for image in images]
    images = [image if image.size == (width, height) else image.resize((width, height), Image.Resampling.LANCZOS)
              for image in images]
    return (images_to_pixels(images) + 1) / 2


def controlled(model, denoiser, r, sigmas: torch.Tensor):
    """`denoiser` with the validated request `r`'s controls (each checked against `model`), over the
    full schedule `sigmas`; the denoiser itself when there are none."""
    if not r.controls:
        return denoiser
    units = []
    for control in r.controls:
        control.model.check_base(model)
        low, high = sigma_range(sigmas, control.start, control.end)
        hint = hint_tensor(control.images, r.width, r.height).to(model.device)
        units.append(ControlUnit(control.model.net.to(model.device), hint, control.strength, low, high))
    return ControlDenoiser(denoiser, units)


def describe(controls) -> dict[str, str]:
    """The controls as PNG parameters, in the sd-webui-controlnet extension's words."""
    return {f"ControlNet {i}": f"Module: {c.module or c.model.kind or 'none'}, Model: {c.model.name}, "
                               f"Weight: {c.strength:g}, "
                               f"Guidance Start: {c.start:g}, Guidance End: {c.end:g}"
            for i, c in enumerate(controls)}
