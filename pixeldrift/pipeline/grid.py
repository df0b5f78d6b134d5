"""X/Y/Z plots: one generation option per axis, one labelled sheet per Z value.

    run_grid(model, GenerationRequest("a red (circle)"), parse_axis("steps=5,10,20"),
             parse_axis("sampler=euler,dpmpp_2m"), parse_axis("cfg=1,4,7"))

Any request field can be an axis (aliases: cfg, negative, denoising), plus
`prompt_sr`, the prompt search-and-replace of the AUTOMATIC1111 web UI: its first
value is searched for in the prompt (and negative prompt) and each value replaces
it in turn, and control_strength / control_start / control_end, which set that
field of every ControlNet control in the request (a strength sweep; strength 0 is
the base model). Every cell request is checked before the first image is made, and each
sheet's metadata lists every cell with its full settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path

from PIL import Image

from pixeldrift.pipeline.contact_sheet import labelled_sheet
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord

MAX_CELLS = 400
ALIASES = {"cfg": "guidance", "cfg_scale": "guidance", "negative": "negative_prompt", "denoising": "strength"}
_NOT_AXES = {"init_image", "mask", "batch_size", "controls"}
CONTROL_AXES = {"control_strength": "strength", "control_start": "start", "control_end": "end"}
_OPTIONS = ({f.name: f.type for f in fields(GenerationRequest) if f.name not in _NOT_AXES}
            | {"prompt_sr": "str"} | {name: "float" for name in CONTROL_AXES})


@dataclass(frozen=True)
class Axis:
    name: str                 # a GenerationRequest field, or prompt_sr
    values: tuple             # typed values, in order
    label: str = ""           # the name as the user wrote it, for the margins

    def title(self, value) -> str:
        return f"{self.label or self.name}: {value}"


def parse_axis(text: str) -> Axis:
    """'steps=5,10,20' -> Axis('steps', (5, 10, 20)); ValueError naming what is wrong."""
    if "=" not in text:
        raise ValueError(f"axis {text!r} must look like name=value1,value2 (e.g. steps=5,10,20)")
    written, _, raw = text.partition("=")
    written = written.strip()
    name = ALIASES.get(written.lower(), written.lower())
    if name not in _OPTIONS:
        raise ValueError(f"axis {written!r} is not a generation option; choose one of "
                         f"{', '.join(sorted(set(_OPTIONS) | set(ALIASES)))}")
    values = tuple(v.strip() for v in raw.split(","))
    if not raw.strip() or any(v == "" for v in values):
        raise ValueError(f"axis {written!r} has an empty value in {raw!r}")
    return Axis(name, tuple(_typed(name, v) for v in values), written)


def _typed(name: str, value: str):
    kind = str(_OPTIONS[name])
    try:
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except ValueError:
        raise ValueError(f"axis {name}: {value!r} is not a {'whole number' if kind.startswith('int') else 'number'}"
                         ) from None
    return value


@dataclass
class GridSheet:
    image: Image.Image
    record: GenerationRecord
    cells: list[dict]                 # x, y and the full settings of each cell, row by row
    images: list[Image.Image]         # the cells' images, in the same order

    def save(self, path: str | Path, watermark: bool = True) -> Path:
        return save_labelled_png(self.image, path, self.record, watermark=watermark)


def cell_request(base: GenerationRequest, chosen: list[tuple[Axis, object]]) -> GenerationRequest:
    request = replace(base, batch_size=1)
    for axis, value in chosen:
        if axis.name == "prompt_sr":
            search = axis.values[0]
            if search not in base.prompt and search not in base.negative_prompt:
                raise ValueError(f"prompt_sr: {search!r} (its first value) does not occur in the prompt")
            request = replace(request, prompt=request.prompt.replace(search, value),
                              negative_prompt=request.negative_prompt.replace(search, value))
        elif axis.name in CONTROL_AXES:
            request = _with_control_field(request, axis.name, value)
        else:
            request = replace(request, **{axis.name: value})
    return request


def _with_control_field(request: GenerationRequest, axis: str, value: float) -> GenerationRequest:
    """The request with `axis` (control_strength, ...) set on every one of its controls."""
    if not request.controls:
        raise ValueError(f"the axis {axis} needs a control: give --control FOLDER and --control-image MAP")
    field = CONTROL_AXES[axis]
    return replace(request, controls=tuple(replace(control, **{field: value}) for control in request.controls))


def plan(base: GenerationRequest, x: Axis | None, y: Axis | None, z: Axis | None, model) -> list[list[list]]:
    """Every cell's validated request, as [z][y][x]; all checked before anything is generated."""
    xs, ys, zs = (axis.values if axis else (None,) for axis in (x, y, z))
    if len(xs) * len(ys) * len(zs) > MAX_CELLS:
        raise ValueError(f"the grid has {len(xs) * len(ys) * len(zs)} cells; at most {MAX_CELLS}")
    named = [a.name for a in (x, y, z) if a is not None]
    if len(set(named)) < len(named):
        raise ValueError(f"an option appears on two axes: {named}")

    def request(*picked):
        chosen = [(axis, value) for axis, value in zip((x, y, z), picked) if axis is not None]
        return cell_request(base, chosen).validated(model.sampling_defaults, model.limits)

    return [[[request(xv, yv, zv) for xv in xs] for yv in ys] for zv in zs]


def run_grid(model, base: GenerationRequest, x: Axis | None = None, y: Axis | None = None, z: Axis | None = None,
             callback=None) -> list[GridSheet]:
    """One sheet per Z value; `callback(done, total)` after each cell."""
    cells = plan(base, x, y, z, model)
    total, done, sheets = sum(len(row) for sheet in cells for row in sheet), 0, []
    for zi, sheet_cells in enumerate(cells):
        images, described = [], []
        for yi, row in enumerate(sheet_cells):
            for xi, request in enumerate(row):
                result = model.generate(request)[0]
                images.append(result.image)
                described.append({"x": xi, "y": yi, "settings": result.record.to_dict()})
                done += 1
                if callback is not None:
                    callback(done, total)
        x_titles = [str(v) for v in x.values] if x else []
        y_titles = [str(v) for v in y.values] if y else []
        names = [f"x: {x.label}" if x else "", f"y: {y.label}" if y else "", z.title(z.values[zi]) if z else ""]
        title = "   ".join(n for n in names if n)
        image = labelled_sheet(images, len(sheet_cells[0]), x_titles, y_titles, title)
        sheets.append(GridSheet(image, _sheet_record(described, x, y, z, zi), described, images))
    return sheets


def _sheet_record(cells: list[dict], x, y, z, zi: int) -> GenerationRecord:
    first = GenerationRecord.from_dict(cells[0]["settings"])
    axes = {k: {"name": a.name, "values": list(a.values)} for k, a in (("x", x), ("y", y), ("z", z)) if a}
    grid = {"axes": axes, "z_index": zi, "cells": cells}
    extra = {**first.extra, "XYZ grid": json.dumps(grid, separators=(",", ":"))}
    return replace(first, extra=extra)


def request_for_cell(settings: dict) -> GenerationRequest:
    """The request that makes a grid cell again, from its recorded settings (see grid_cells)."""
    return GenerationRequest(prompt=settings["prompt"], negative_prompt=settings["negative_prompt"],
                             steps=settings["steps"], sampler=settings["sampler"], guidance=settings["cfg_scale"],
                             seed=settings["seed"], width=settings["width"], height=settings["height"],
                             schedule=settings["extra"].get("Schedule type"),
                             guidance_rescale=float(settings["extra"].get("Guidance rescale", 0)))


def grid_cells(record: GenerationRecord) -> list[dict]:
    """The cells (x, y, full settings) of a grid sheet's record, e.g. from `read_labels(png).record`."""
    if "XYZ grid" not in record.extra:
        raise ValueError("this image is not a pixeldrift grid sheet (no 'XYZ grid' setting)")
    return json.loads(record.extra["XYZ grid"])["cells"]
