"""Plan, then animate: read a motion prompt as a world clip, lay out every frame, draw the layouts with a ControlNet.

The video model from the words alone rarely moves an object the way its caption says: the motion
words must reach the pixels through temporal layers trained for a few CPU hours. Layout-grounded
video generation splits the job (LLM-grounded Video Diffusion, LVD, Lian et al. 2024): a planner
writes a dynamic scene layout, where each object is in every frame, and the video model draws it.
Here the world's clip parser is the planner (world/motion.py parse_clip: exact for its grammar, no
language model), the clip's seed places the objects and moves them along the stated direction and
speed, every frame's layout map is drawn (world/control_maps.py clip_layout_maps: the objects in
their colours, the clock's hands, the vessels' levels, the sign's letters so far), and the layout
ControlNet trained on the image model steers each frame (sampling/video_control.py) while the frames
are denoised jointly. `pipeline/plan.py` is the same idea for stills.

    plan = plan_clip(prompt, seed, frames=8, size=64)
    control = ClipControl(load_controlnet("models/cn-layout"), plan.maps[None], strength=2.0)
    clips = video.generate([plan.caption], [seed], controls=[control])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixeldrift.pipeline.contact_sheet import save_png
from pixeldrift.pipeline.control import check_strength_and_range
from pixeldrift.pipeline.plan import PLAN_STRENGTH
from pixeldrift.sampling.control import ControlUnit, sigma_range
from pixeldrift.sampling.video_control import VideoControlDenoiser

MAX_CLIP_CONTROLS = 4


@dataclass(frozen=True)
class ClipControl:
    """A loaded ControlNet folder and one control map per frame of each clip: maps (N, F, H, W, 3) uint8."""

    model: object                                   # a ControlModel (pipeline/controlnet_folder.py)
    maps: np.ndarray = field(repr=False)
    strength: float = PLAN_STRENGTH
    start: float = 0.0                              # acts from this fraction of the steps ...
    end: float = 1.0                                # ... to this one

    def check(self, clips: int, frames: int, size: int, index: int) -> None:
        where = f"control {index + 1}"
        if not hasattr(self.model, "net") or not hasattr(self.model, "check_spatial_base"):
            raise ValueError(f"{where}: model must be a loaded ControlNet folder (load_controlnet)")
        expected = (clips, frames, size, size, 3)
        if not isinstance(self.maps, np.ndarray) or self.maps.dtype != np.uint8 or self.maps.shape != expected:
            got = getattr(self.maps, "shape", type(self.maps).__name__)
            raise ValueError(f"{where}: the maps must be a uint8 array of shape {expected} (one map per frame of "
                             f"each clip), got {got}")
        check_strength_and_range(where, self.strength, self.start, self.end)


@dataclass(frozen=True)
class ClipPlan:
    """What was decided before drawing: the prompt's clip with every wildcard filled in (colours, sizes,
    background, vessel), the caption that says all of it, and every frame's layout map (F, H, W, 3) uint8."""

    clip: object
    caption: str
    maps: np.ndarray = field(repr=False)


def plan_clip(prompt: str, seed: int, frames: int, size: int) -> ClipPlan:
    """Read `prompt` as a world clip, decide what it leaves open and lay out its frames, all from `seed`
    (world.motion.parse_clip's PromptError, naming the part, for a prompt outside the clip grammar).

    The video model is then told the long caption of the decided clip ("a small purple triangle moving
    right quickly on a light blue background"): the map shows a colour the prompt did not name, and a
    caption that names it keeps the frames from drifting between neighbouring colours."""
    import random

    from pixeldrift.world.control_maps import clip_layout_maps
    from pixeldrift.world.motion import clip_caption, parse_clip, resolve_clip

    clip = resolve_clip(parse_clip(prompt), random.Random(seed))
    return ClipPlan(clip, clip_caption(clip, "long"), clip_layout_maps(clip, frames, size, seed))


def save_clip_plan(plan: ClipPlan, clip_path: str | Path) -> Path:
    """NAME.plan.png beside NAME.mp4: the plan's layout maps, first frame on the left, written atomically (what
    the frames were told to show, to set beside the clip)."""
    return save_png(Image.fromarray(np.concatenate(list(plan.maps), axis=1)), Path(clip_path).with_suffix(".plan.png"))


def controlled_video_denoiser(video, denoiser, controls: list[ClipControl], clips: int, frames: int,
                              sigmas: torch.Tensor):
    """`denoiser` (the video model's) steered by every control's per-frame maps; itself when there are none."""
    if not controls:
        return denoiser
    if len(controls) > MAX_CLIP_CONTROLS:
        raise ValueError(f"at most {MAX_CLIP_CONTROLS} controls, got {len(controls)}")
    units = []
    for index, control in enumerate(controls):
        control.check(clips, frames, video.size, index)
        control.model.check_spatial_base(video)
        hint = torch.from_numpy(control.maps).flatten(0, 1).permute(0, 3, 1, 2).float() / 255  # (N*F, 3, H, W)
        low, high = sigma_range(sigmas, control.start, control.end)
        device = video.image_model.device
        units.append(ControlUnit(control.model.net.to(device), hint.to(device), control.strength, low, high))
    return VideoControlDenoiser(denoiser, units)
