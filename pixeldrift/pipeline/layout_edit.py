"""Edit by re-planning the layout: read the picture's objects, change the layout, redraw only what changed.

Instruction-based editing in LMD ("LLM-grounded Diffusion", Lian et al. 2023, sec. 3.3) edits the
layout, not the pixels: the layout of the image is updated as the instruction says and drawn
again, so what the instruction leaves alone stays where it was. Here:

1. the picture's objects are read back from its pixels (world/read_objects.py through the world
   verifier, with caption A's scene: shape, colour and box of each), the world's reader standing
   in for a detector, so the picture must be one of the world's kind (objects on a plain
   background, as the default model draws them);
2. captions A and B are parsed as world scenes (world/parse.py); B may change the colours of A's
   objects and nothing else (the same shapes, sizes, counts, relation, background), and every
   object of a changed group gets its new colour in the layout;
3. the new layout is drawn as a layout map (pipeline/plan.py) and the changed objects' boxes, a
   few pixels wider, are repainted (pipeline/editing.py's inpainting) from caption B with the
   layout ControlNet steering them; outside the boxes the picture is kept exactly.

    edited = layout_edit(model, load_controlnet("models/cn-layout"), picture,
                         "a cyan cross to the left of a pink square", "a black cross to the left of a pink square")
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.plan import PLAN_STRENGTH, Plan, plan_from_layout
from pixeldrift.pipeline.request import GenerationRequest

MASK_MARGIN_PX = 3  # the repainted box reaches this far past the object's box (its anti-aliased rim)


@dataclass(frozen=True)
class LayoutEdit:
    """The edited layout (every object read from the picture, the changed ones recoloured), the mask of what is
    repainted (white), and which objects changed ("cyan cross -> black cross")."""

    plan: Plan
    mask: Image.Image
    changes: tuple[str, ...]


def colour_changes(prompt_a: str, prompt_b: str) -> dict[tuple[str, str], str]:
    """{(shape, colour in A): colour in B} for every group whose colour B changes; ValueError unless B is A with
    some colours changed (world.parse_prompt's PromptError for a prompt outside the world's grammar)."""
    from pixeldrift.world import parse_prompt

    a, b = parse_prompt(prompt_a), parse_prompt(prompt_b)
    groups_a, groups_b = getattr(a, "groups", None), getattr(b, "groups", None)
    if groups_a is None or groups_b is None:
        raise ValueError("a layout edit takes scenes of objects ('a red circle left of a blue square'); "
                         f"{prompt_a!r} or {prompt_b!r} is another kind of scene")
    same = [replace(g, colour=None) for g in groups_a] == [replace(g, colour=None) for g in groups_b]
    if not same or replace(a, groups=groups_b) != b:
        raise ValueError(f"a layout edit changes colours only: {prompt_b!r} must be {prompt_a!r} with some objects' "
                         "colours changed (the same shapes, sizes, counts, relation and background)")
    changes = {}
    for old, new in zip(groups_a, groups_b):
        if old.colour != new.colour:
            if old.colour is None or new.colour is None:
                raise ValueError(f"name the colour of the {old.shape} in both prompts: the edit reads it in the "
                                 "picture by its old colour and draws it in its new one")
            changes[(old.shape, old.colour)] = new.colour
    if not changes:
        raise ValueError(f"{prompt_b!r} changes nothing in {prompt_a!r}")
    return changes


def plan_layout_edit(picture: Image.Image, prompt_a: str, prompt_b: str) -> LayoutEdit:
    """The picture's objects as read, recoloured as B says, and the mask of the changed ones' boxes."""
    from pixeldrift.world import parse_prompt, verify

    changes, size = colour_changes(prompt_a, prompt_b), picture.width
    if picture.width != picture.height:
        raise ValueError(f"the picture is {picture.width}x{picture.height}; a layout edit takes a square picture")
    seen = verify(picture.convert("RGB"), parse_prompt(prompt_a)).seen.get("objects", [])
    objects, mask, changed = [], Image.new("L", (size, size), 0), []
    for item in seen:
        colour = changes.get((item["shape"], item["colour"]), item["colour"])
        half = item["side"] * size / 2
        box = [item["cx"] * size - half, item["cy"] * size - half, item["cx"] * size + half, item["cy"] * size + half]
        objects.append({"label": f"{colour} {item['shape']}", "box": [min(max(v, 0.0), size) for v in box]})
        if colour != item["colour"]:
            changed.append(f"{item['colour']} {item['shape']} -> {colour} {item['shape']}")
            x0, y0, x1, y1 = box
            ImageDraw.Draw(mask).rectangle([x0 - MASK_MARGIN_PX, y0 - MASK_MARGIN_PX, x1 + MASK_MARGIN_PX,
                                            y1 + MASK_MARGIN_PX], fill=255)
    if not changed:
        wanted = ", ".join(f"a {colour} {shape}" for shape, colour in changes)
        found = ", ".join(f"{o['colour']} {o['shape']}" for o in seen) or "no object"
        raise ValueError(f"{wanted} to recolour is not in the picture (read: {found})")
    return LayoutEdit(plan_from_layout({"objects": objects}, size), mask, tuple(changed))


def layout_edit_request(edit: LayoutEdit, picture: Image.Image, controlnet, prompt_b: str, seed: int,
                        strength: float = 1.0, strength_of_control: float = PLAN_STRENGTH, **settings
                        ) -> GenerationRequest:
    """The inpainting request that draws the edit: the changed boxes repainted from B, the layout ControlNet
    steering them with the edited layout's map; `settings` (steps, guidance, sampler, ...) as any request's."""
    layout = Image.fromarray(edit.plan.control_map())
    return GenerationRequest(prompt=prompt_b, seed=seed, init_image=picture.convert("RGB"), mask=edit.mask,
                             strength=strength, controls=(Control(controlnet, layout, strength_of_control),),
                             **settings)


def layout_edit(model, controlnet, picture: Image.Image, prompt_a: str, prompt_b: str, seed: int = 0,
                strength: float = 1.0, **settings) -> Image.Image:
    """The edited picture (see the module docstring)."""
    edit = plan_layout_edit(picture, prompt_a, prompt_b)
    request = layout_edit_request(edit, picture, controlnet, prompt_b, seed, strength, **settings)
    return model.sample([prompt_b], [seed], request)[0]
