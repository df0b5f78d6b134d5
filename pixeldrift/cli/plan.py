"""The --plan and --layout options of `pixeldrift generate`: plan the scene, then draw it with a ControlNet."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import click

FILE = click.Path(dir_okay=False, path_type=Path)

_OPTIONS = [
    click.option("--plan", is_flag=True,
                 help="Plan, then draw: read the prompt as a world scene, lay it out with each image's seed and "
                      "draw that layout with a ControlNet (--control, repeat it to draw the plan as several maps "
                      "at once, e.g. its layout and its edges; models/cn-layout by default, at strength 2 unless "
                      "--control-strength says otherwise). Saves "
                      "NAME.plan.json (the objects' boxes) and NAME.plan.png (the map) beside each image."),
    click.option("--layout", type=FILE,
                 help="Draw your own layout instead of the prompt's plan: a JSON file such as "
                      '{"objects": [{"label": "red circle", "box": [x0, y0, x1, y1]}]}, boxes in pixels of the '
                      "image, at most 8 objects (a colour and a shape the world knows each); a NAME.plan.json "
                      "saved beside an earlier image works too (edit its boxes and draw it again)."),
]


def plan_options(command):
    """Add --plan and --layout; the command receives them as keyword arguments."""
    return functools.reduce(lambda f, option: option(f), reversed(_OPTIONS), command)


@dataclass(frozen=True)
class PlanSettings:
    """How to plan and draw, as the options asked, checked before any model is loaded."""

    folders: tuple[Path, ...]   # the ControlNets, each drawing the plan as its kind of map; () = the default
    strengths: tuple[float, ...]  # one per folder
    start: float
    end: float
    layout: bytes | None    # a user's layout document, or None to plan from the prompt


def plan_settings(options: dict) -> PlanSettings | None:
    """None without --plan or --layout (the --control options are then left for controls_from); else the
    plan's settings, taking --control, --control-strength, --control-start and --control-end for the plan."""
    from pixeldrift.cli.control import per_control_strengths
    from pixeldrift.pipeline.plan import PLAN_STRENGTH

    plan, layout = options.pop("plan"), options.pop("layout")
    if not plan and layout is None:
        return None
    if plan and layout is not None:
        raise click.BadParameter("give --plan (the prompt's plan) or --layout FILE (your own), not both",
                                 param_hint="--layout")
    folders, images, strengths = (options.pop(k) for k in ("control_folders", "control_images", "control_strengths"))
    start, end = options.pop("control_start"), options.pop("control_end")
    options.pop("control_resize")
    if images:
        raise click.BadParameter("a plan draws its own control map; leave out --control-image",
                                 param_hint="--control-image")
    strengths = per_control_strengths(strengths, max(len(folders), 1), default=PLAN_STRENGTH)
    return PlanSettings(tuple(folders), strengths, start, end, None if layout is None else _read_layout(layout))


def _read_layout(path: Path) -> bytes:
    from pixeldrift.bounded_files import regular_file
    from pixeldrift.pipeline.plan import MAX_LAYOUT_BYTES

    regular_file(path, MAX_LAYOUT_BYTES, "layout file")  # a FIFO or a huge file is refused before reading
    with open(path, "rb") as file:
        return file.read(MAX_LAYOUT_BYTES + 1)


def planned(model, request, settings: PlanSettings, device: str):
    """The request with each image's plan as its control, and the plans (image i: seed + i)."""
    from pixeldrift.pipeline.plan import check_plan_size, plan_control, plan_from_layout_json, plan_from_prompt

    filled = request.validated(model.sampling_defaults, model.limits)
    if filled.width != filled.height:
        raise ValueError(f"plan-then-draw makes square images; got {filled.width}x{filled.height}")
    size = check_plan_size(filled.width)
    controlnets = [_plan_controlnet(model, folder, device) for folder in settings.folders or (None,)]
    seeds = [request.seed + i for i in range(request.batch_size)]
    if settings.layout is None:
        plans = [plan_from_prompt(request.prompt, seed, size, controlnets[0].kind) for seed in seeds]
    else:
        plans = [plan_from_layout_json(settings.layout, size)] * len(seeds)
    controls = tuple(plan_control(plans, controlnet, strength, settings.start, settings.end)
                     for controlnet, strength in zip(controlnets, settings.strengths))
    return replace(request, controls=controls), plans


def _plan_controlnet(model, folder: Path | None, device: str):
    """The --control folder, or the layout ControlNet shipped beside the default model; either must
    belong to `model`."""
    from pixeldrift.pipeline.controlnet_folder import load_controlnet
    from pixeldrift.pipeline.plan import DEFAULT_LAYOUT_CONTROLNET

    controlnet = load_controlnet(folder or DEFAULT_LAYOUT_CONTROLNET, device)
    try:
        controlnet.check_base(model)
    except ValueError as error:
        if folder is not None:
            raise
        raise ValueError(f"--plan draws with {controlnet.folder} unless told otherwise, and {error}; give "
                         "--control FOLDER, a layout ControlNet trained for this model") from None
    return controlnet


def save_plans(paths: list[Path], plans) -> None:
    """Each image's plan and its map beside the image (NAME.plan.json, NAME.plan.png)."""
    from pixeldrift.pipeline.plan import save_plan

    for path, plan in zip(paths, plans):
        for written in save_plan(plan, path):
            click.echo(f"wrote {written}")


def label_with_plans(results, plans) -> None:
    """Mention each image's plan in its PNG parameters."""
    for result, plan in zip(results, plans):
        result.record.extra["Plan"] = plan.describe()
