"""A personalised subject in a planned scene: lay the scene out, draw it without the subject, draw the
subject alone, and compose the two.

A subject learnt from a handful of pictures (DreamBooth, a LoRA: train/dreambooth.py, train/lora.py) is
drawn well alone, but the prompt "a red sks shape to the left of a blue square" asks the personalised
model to compose, which the base model cannot do from the words (docs/personalisation.md). LMD
("LLM-grounded Diffusion", Lian et al. 2023, sec. 3.2) splits the job per box: each box's object is
generated alone from its own short prompt, cut out, and the scene is composed around it. Here:

1. the prompt with the subject's words ("sks shape") replaced by a world shape the prompt does not use
   (the placeholder) is planned as any world prompt (pipeline/plan.py): the subject gets that object's
   box, placed by the seed as the world places its objects;
2. the base model draws the rest of the planned scene with the layout ControlNet, from a layout map in
   which the subject's box is empty;
3. the personalised model draws the subject alone from its own words ("a red sks shape"), on the full
   canvas, as it was trained to;
4. its object is cut out (the pixels that differ from the picture's border colour: the world's
   backgrounds are plain, so this is the world reader's own foreground test, world/read_objects.py),
   scaled into the subject's box with its aspect kept, and laid over the scene with its coverage as
   alpha. LMD composes latents and denoises again; at 64 px with plain backgrounds the pixels are
   composed directly, so what the personalised model drew is kept as drawn.

The base draws step 2 because a layout ControlNet only steers the weights it was trained beside (its
fingerprint check refuses a fine-tuned or LoRA-merged denoiser); the personalised model is then the base
with the LoRA loaded, or a DreamBooth folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from pixeldrift.pipeline.plan import PLAN_STRENGTH, Plan, plan_control, plan_from_prompt
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.world import SHAPES
from pixeldrift.world.components import connected_components, grown_by_one_pixel
from pixeldrift.world.read_objects import FOREGROUND_DISTANCE, core_distance
from pixeldrift.world.read_pixels import border_colour

MAX_IDENTIFIER_CHARS = 32


@dataclass(frozen=True)
class SubjectPlan:
    """The planned scene (the subject as the placeholder shape), which object is the subject, and the words that
    draw the subject alone; `without_subject()` is the layout the base draws."""

    plan: Plan
    placeholder_prompt: str
    subject_index: int
    subject_prompt: str

    @property
    def subject_box(self) -> tuple[float, float, float, float]:
        return self.plan.objects[self.subject_index].box

    def without_subject(self) -> Plan:
        """The plan as a layout of boxes with the subject's left out: what the base model draws."""
        others = tuple(o for i, o in enumerate(self.plan.objects) if i != self.subject_index)
        return Plan(self.plan.size, "layout", others)


def _subject_words(prompt: str, identifier: str) -> re.Match:
    """Where the prompt names the subject ('a red sks shape'); group 1 is the word before the identifier."""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,%d}" % MAX_IDENTIFIER_CHARS, identifier or ""):
        raise ValueError(f"the subject's identifier must be one word of letters, digits or '_' (at most "
                         f"{MAX_IDENTIFIER_CHARS}), got {identifier!r}")
    found = list(re.finditer(r"\b(?:(?:an?|one)\s+)?(?:(\w+)\s+)?%s\s+shape\b" % re.escape(identifier), prompt))
    if len(found) != 1:
        raise ValueError(f"name the subject once, as 'a [colour] {identifier} shape' (e.g. 'a red {identifier} "
                         f"shape to the left of a blue square'); {prompt!r} names it {len(found)} times")
    return found[0]


def plan_subject_scene(prompt: str, identifier: str, seed: int, size: int) -> SubjectPlan:
    """The scene of a subject prompt laid out with `seed` (see the module docstring); ValueError names what
    cannot be planned (the subject not named once, or the rest outside the world's grammar)."""
    words = _subject_words(prompt, identifier)
    colour = f"{words.group(1)} " if words.group(1) else ""
    used = set(re.findall(r"\w+", prompt.lower()))
    placeholder = next((s for s in SHAPES if not used & {s, f"{s}s", f"{s}es"}), None)  # "crosses" too
    if placeholder is None:
        raise ValueError(f"{prompt!r} names every shape the world draws, so none is left to stand for the subject")
    placeholder_prompt = f"{prompt[:words.start()]}a {colour}{placeholder}{prompt[words.end():]}"
    plan = plan_from_prompt(placeholder_prompt, seed, size)
    index = [o.shape for o in plan.objects].index(placeholder)
    return SubjectPlan(plan, placeholder_prompt, index, f"a {colour}{identifier} shape")


def cut_out(picture: Image.Image) -> tuple[Image.Image, Image.Image] | None:
    """The largest object of a plain-background picture, cropped to it: (RGB, coverage alpha 'L'); None when
    nothing stands out from the border colour."""
    pixels = np.asarray(picture.convert("RGB"), np.float32) / 255.0
    distance = np.linalg.norm(pixels - border_colour(pixels), axis=2)
    components = connected_components(distance > FOREGROUND_DISTANCE)
    if not components:
        return None
    largest = max(components, key=lambda c: c.area)
    alpha = np.clip(distance / core_distance(distance[largest.ys, largest.xs]), 0.0, 1.0)
    keep = np.zeros(alpha.shape, dtype=bool)
    keep[largest.ys, largest.xs] = True
    alpha = alpha * grown_by_one_pixel(keep)  # the component and its anti-aliased rim, not other objects
    x0, y0, x1, y1 = largest.box  # inclusive
    box = (x0, y0, x1 + 1, y1 + 1)
    return picture.convert("RGB").crop(box), Image.fromarray((alpha * 255).round().astype(np.uint8)).crop(box)


def compose(scene: Image.Image, subject: tuple[Image.Image, Image.Image], box) -> Image.Image:
    """`scene` with the cut-out subject scaled to fit `box` (aspect kept, centred) and laid over it."""
    rgb, alpha = subject
    x0, y0, x1, y1 = box
    scale = min((x1 - x0) / rgb.width, (y1 - y0) / rgb.height)
    width, height = max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))
    left, top = round((x0 + x1 - width) / 2), round((y0 + y1 - height) / 2)
    composed = scene.convert("RGB").copy()
    composed.paste(rgb.resize((width, height), Image.Resampling.LANCZOS), (left, top),
                   alpha.resize((width, height), Image.Resampling.BOX))
    return composed


def draw_subject_scene(base, controlnet, personalised, prompt: str, identifier: str, seed: int = 0,
                       strength_of_control: float = PLAN_STRENGTH, **settings):
    """The picture of a subject prompt as a generation result (image and record) and its plan: the rest of the
    planned scene drawn by `base` with the layout `controlnet`, the subject drawn alone by `personalised` (the
    base with a LoRA loaded, or another folder's model) and composed into its box; `settings` (steps, guidance,
    sampler) go to both drawings. ValueError when the personalised model draws no object to cut out."""
    planned = plan_subject_scene(prompt, identifier, seed, base.config.image_size)
    size = planned.plan.size
    scene_request = GenerationRequest(prompt=planned.placeholder_prompt, seed=seed, width=size, height=size,
                                      controls=(plan_control([planned.without_subject()], controlnet,
                                                             strength_of_control),), **settings)
    scene = base.generate(scene_request)[0]
    subject_request = GenerationRequest(prompt=planned.subject_prompt, seed=seed, width=size, height=size,
                                        **settings)
    subject = cut_out(personalised.generate(subject_request)[0].image)
    if subject is None:
        raise ValueError(f"the personalised model drew no object for {planned.subject_prompt!r} (seed {seed})")
    extra = {**scene.record.extra, "Subject": planned.subject_prompt, "Plan": planned.plan.describe()}
    record = replace(scene.record, prompt=prompt, extra=extra)
    return replace(scene, image=compose(scene.image, subject, planned.subject_box), record=record), planned
