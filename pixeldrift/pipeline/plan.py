"""Plan, then draw: read the prompt as a scene, lay the scene out, and draw the layout with a ControlNet.

Counts and relations are concepts, not pixel patterns: a diffusion model that draws
"three circles above a square" from the words alone often draws two, or puts them
beside it. Layout-then-draw methods split the job (LayoutGPT, Feng et al. 2023; LMD,
"LLM-grounded Diffusion", Lian et al. 2023): something that understands the words
writes a layout of labelled boxes, and the image model only has to draw that layout.
Here the world's parser is the planner (world/parse.py: exact for its grammar, no
language model), the world's layout sampler places the objects with the image's
seed, and a layout ControlNet (Zhang et al. 2023) draws the control map.

A `Plan` is what was decided before drawing: the parsed scene (None for a user's
layout), the seed, the image size, the control kind, and each object's label ("red
circle") and box in pixels, so it can be saved as JSON beside the image and drawn over
it. Boxes are [x0, y0, x1, y1] in the image's pixels, (0, 0) its top-left corner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import check_number
from pixeldrift.pipeline.contact_sheet import save_png
from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.control_maps import IMAGE_MAPS, check_kind, image_control, world_control
from pixeldrift.pipeline.model_folder import DEFAULT_MODEL_DIR
from pixeldrift.world import COLOURS, IMAGE_SIZES, SHAPES, PromptError, Scene, parse_prompt, spec_to_dict
from pixeldrift.world.control_maps import boxes_layout_map
from pixeldrift.world.palette import OBJECT_RGB
from pixeldrift.world.render import placed_objects
from pixeldrift.world.spec import MAX_OBJECTS

FORMAT = "pixeldrift-plan/1"
# A plan's control strength unless told: the shipped layout ControlNet's held-out accuracy was 79.2% at 1 and
# 85.0% at 2 (models/cn-layout/README.md)
PLAN_STRENGTH = 2.0
DEFAULT_LAYOUT_CONTROLNET = DEFAULT_MODEL_DIR.parent / "cn-layout"  # shipped beside the default model
MAX_LAYOUT_BYTES = 16 * 1024  # a layout of eight objects is under 1 KiB
MAX_LABEL_CHARS = 40
MIN_BOX_SIDE = 2.0            # pixels: a smaller shape vanishes when the map is downsampled
LAYOUT_FIELDS, OBJECT_FIELDS = ("objects", "size"), ("label", "box")
SAVED_PLAN_FIELDS = ("format", "source", "kind", "seed", "scene")  # a saved NAME.plan.json: read, not used


@dataclass(frozen=True)
class PlannedObject:
    label: str                               # a colour and a shape the world knows: "red circle"
    box: tuple[float, float, float, float]   # x0, y0, x1, y1 in the image's pixels

    @property
    def colour(self) -> str:
        return self.label.split()[0]

    @property
    def shape(self) -> str:
        return self.label.split()[1]


@dataclass(frozen=True)
class Plan:
    """The scene an image is drawn from, decided before any sampling."""

    size: int                              # the square image's side in pixels
    kind: str                              # the control map kind the plan is drawn as
    objects: tuple[PlannedObject, ...]     # every object's label and box (none for clocks, vessels, signs)
    scene: Scene | None = None             # the prompt's parsed scene; None for a user's layout
    seed: int | None = None                # the seed that placed the scene's objects

    def control_map(self, kind: str | None = None) -> np.ndarray:
        """(size, size, 3) uint8: the map a ControlNet of `kind` (the plan's own kind by default) draws the
        plan from; a user's layout has boxes only, so it is drawn as a layout map or that map's edges/scribble."""
        kind = check_kind(kind or self.kind)
        if self.scene is not None:  # exactly where render(scene, size, seed) puts everything
            return world_control(kind, self.scene, self.size, self.seed)
        if kind != "layout" and kind not in IMAGE_MAPS:
            raise ValueError(f"a layout of boxes cannot be drawn as a {kind} map (it has no {kind}); draw it "
                             f"with a layout, {' or '.join(IMAGE_MAPS)} ControlNet")
        layout = boxes_layout_map([(o.colour, o.shape, o.box) for o in self.objects], self.size)
        return layout if kind == "layout" else image_control(kind, layout)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "source": "prompt" if self.scene is not None else "layout", "size": self.size,
                "kind": self.kind, "seed": self.seed,
                "scene": spec_to_dict(self.scene) if self.scene is not None else None,
                "objects": [{"label": o.label, "box": list(o.box)} for o in self.objects]}

    def describe(self) -> str:
        """One line for an image's PNG parameters."""
        source = f"prompt seed {self.seed}" if self.scene is not None else "user layout"
        count = len(self.objects)
        return f"{source}; {count} object{'s' if count != 1 else ''}; {self.kind} map"


def check_plan_size(size) -> int:
    """The side of a square image the world can lay out, or ValueError saying which sizes can be planned."""
    if type(size) is not int or size not in IMAGE_SIZES:
        raise ValueError(f"plan-then-draw makes square images of {', '.join(map(str, IMAGE_SIZES))} pixels "
                         f"(the world's sizes), got {size!r}")
    return size


def plan_from_prompt(prompt: str, seed: int, size: int, kind: str = "layout") -> Plan:
    """The prompt's scene laid out with `seed`: the same placement render(scene, size, seed) draws."""
    check_plan_size(size)
    try:
        scene = parse_prompt(prompt)
    except PromptError as error:
        raise ValueError(f"the prompt cannot be planned: {error}. Plans are made for prompts in the world's "
                         "grammar (e.g. 'three red circles above a blue square'); for another prompt, hand in "
                         "a layout of your own") from None
    objects = tuple(PlannedObject(f"{group.colour} {group.shape}", _pixel_box(place, size))
                    for group, place in placed_objects(scene, size, seed))
    return Plan(size, check_kind(kind), objects, scene, seed)


def _pixel_box(place, size: int) -> tuple[float, float, float, float]:
    """A placement (centre and half-side as fractions of the side) as a box in pixels, to 1/100 pixel."""
    return tuple(round(v * size, 2) for v in (place.cx - place.half, place.cy - place.half,
                                              place.cx + place.half, place.cy + place.half))


def plan_from_layout_json(text: str | bytes, size: int) -> Plan:
    """A user's layout, a JSON document of at most MAX_LAYOUT_BYTES:

        {"objects": [{"label": "red circle", "box": [x0, y0, x1, y1]}, ...], "size": 64}

    boxes in pixels of the `size`-pixel image ("size" optional, and checked when given); ValueError naming
    the first bad field."""
    if isinstance(text, str) and len(text) <= MAX_LAYOUT_BYTES:  # a character is at least a byte: measure first
        text = text.encode("utf-8")
    if not isinstance(text, bytes) or len(text) > MAX_LAYOUT_BYTES:
        raise ValueError(f"layout: a JSON document of at most {MAX_LAYOUT_BYTES} bytes is accepted, got "
                         f"{len(text) if isinstance(text, (str, bytes)) else type(text).__name__}")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as error:  # bad JSON or UTF-8, an integer of over 4,300 digits, deep nesting
        raise ValueError(f"layout: not valid JSON ({error})") from None
    return plan_from_layout(parsed, size)


def plan_from_layout(data, size: int) -> Plan:
    """A user's layout as parsed JSON (see plan_from_layout_json)."""
    check_plan_size(size)
    if not isinstance(data, dict):
        raise ValueError(f"layout: expected a JSON object with {', '.join(LAYOUT_FIELDS)}, got {type(data).__name__}")
    saved = data.get("format") == FORMAT  # a plan saved beside an image, handed back to draw its boxes again
    _check_fields(data, LAYOUT_FIELDS + SAVED_PLAN_FIELDS if saved else LAYOUT_FIELDS, "layout", required=("objects",))
    if "size" in data and data["size"] != size:
        raise ValueError(f"size: the layout is for {data['size']!r}-pixel images but the image is {size} pixels")
    objects = data["objects"]
    if not isinstance(objects, list) or not 1 <= len(objects) <= MAX_OBJECTS:
        count = len(objects) if isinstance(objects, list) else type(objects).__name__
        raise ValueError(f"objects: a list of 1 to {MAX_OBJECTS} objects is accepted (the world's most), got {count}")
    return Plan(size, "layout", tuple(_layout_object(item, f"objects[{i}]", size) for i, item in enumerate(objects)))


def _check_fields(data: dict, accepted: tuple[str, ...], where: str, required: tuple[str, ...]) -> None:
    unknown = sorted(str(key) for key in data if key not in accepted)
    missing = [key for key in required if key not in data]
    if unknown or missing:
        problem = f"unknown field(s) {', '.join(map(repr, unknown))}" if unknown else \
            f"missing field(s) {', '.join(map(repr, missing))}"
        raise ValueError(f"{where}: {problem}; accepted: {', '.join(accepted)}")


def _layout_object(item, where: str, size: int) -> PlannedObject:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object with label and box, got {type(item).__name__}")
    _check_fields(item, OBJECT_FIELDS, where, required=OBJECT_FIELDS)
    return PlannedObject(_label(item["label"], f"{where}.label"), _box(item["box"], f"{where}.box", size))


def _label(label, where: str) -> str:
    """'red circle': one colour and one shape, in that order."""
    if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL_CHARS:
        raise ValueError(f"{where}: expected a colour and a shape such as 'red circle', got {label!r}")
    words = label.lower().split()
    unknown = [w for w in words if w not in COLOURS and w not in SHAPES]
    if unknown or len(words) != 2 or words[0] not in COLOURS or words[1] not in SHAPES:
        problem = f"unknown word(s) {', '.join(map(repr, unknown))}" if unknown else "not a colour then a shape"
        raise ValueError(f"{where}: {label!r}: {problem}; known colours: {', '.join(COLOURS)}; "
                         f"known shapes: {', '.join(SHAPES)}")
    return " ".join(words)


def _box(box, where: str, size: int) -> tuple[float, float, float, float]:
    if not isinstance(box, list) or len(box) != 4:
        raise ValueError(f"{where}: expected [x0, y0, x1, y1] in pixels, got {box!r}")
    for index, value in enumerate(box):
        check_number(value, 0, size, f"{where}[{index}]", integer=False)
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        raise ValueError(f"{where}: {box!r} needs x0 < x1 and y0 < y1, each side at least {MIN_BOX_SIDE:g} pixels")
    return x0, y0, x1, y1


def plan_control(plans: list[Plan], controlnet, strength: float = PLAN_STRENGTH, start: float = 0.0,
                 end: float = 1.0) -> Control:
    """One Control that draws image i from plans[i] as the map the ControlNet reads (its kind); several such
    controls draw one plan at once, e.g. its layout and its edges, their residuals summed."""
    maps = tuple(Image.fromarray(plan.control_map(controlnet.kind)) for plan in plans)
    return Control(controlnet, maps, strength, start, end)


def draw_plan(image: Image.Image, plan: Plan) -> Image.Image:
    """A copy of `image` with each planned box outlined in its object's colour (scaled to the image)."""
    shown = image.convert("RGB")
    draw = ImageDraw.Draw(shown)
    sx, sy = shown.width / plan.size, shown.height / plan.size
    for item in plan.objects:
        x0, y0, x1, y1 = item.box
        draw.rectangle((x0 * sx, y0 * sy, x1 * sx - 1, y1 * sy - 1), outline=OBJECT_RGB[item.colour])
    return shown


def plan_paths(image_path: str | Path) -> tuple[Path, Path]:
    """NAME.plan.json and NAME.plan.png beside NAME.png."""
    image_path = Path(image_path)
    return image_path.with_suffix(".plan.json"), image_path.with_suffix(".plan.png")


def save_plan(plan: Plan, image_path: str | Path) -> tuple[Path, Path]:
    """Write the plan and its control map beside the image, each atomically."""
    json_path, map_path = plan_paths(image_path)
    write_bytes_atomically(json_path, (json.dumps(plan.to_dict(), indent=2) + "\n").encode("utf-8"))
    save_png(Image.fromarray(plan.control_map()), map_path)
    return json_path, map_path
