"""Plan, then draw for a studio job (`plan: true` in the own API), as `pixeldrift generate --plan` does.

The prompt is read as a world scene and laid out once per image, image i with the job's
seed + i (pipeline/plan.py); every served layout ControlNet that steers the job's model
draws those plans. The job keeps the plans: its progress reports them (labelled boxes in
the image's pixels), and each image's gallery row and PNG parameters name its own.
"""

from __future__ import annotations

from dataclasses import replace

from pixeldrift.pipeline.control import check_controls
from pixeldrift.pipeline.plan import Plan, check_plan_size, plan_control, plan_from_prompt
from pixeldrift.server.control_images import checked
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import Job

PLAN_KIND = "layout"


def with_plan(job: Job, studio) -> None:
    """Plan each image of the job and add the layout ControlNets drawing the plans to its request."""
    r = job.request
    if job.kind == "grid" or job.iterations != 1:
        raise ApiError(400, "plan-then-draw plans each image of one batch; a grid job cannot take it", "plan")
    if r.width != r.height:
        raise ApiError(400, f"plan-then-draw makes square images; got {r.width}x{r.height}", "width")
    size = checked(lambda: check_plan_size(r.width), "width")
    controlnets = layout_controlnets(studio, job.model_name)
    plans = tuple(checked(lambda seed=seed: plan_from_prompt(r.prompt, seed, size, PLAN_KIND), "prompt")
                  for seed in range(r.seed, r.seed + r.batch_size))
    controls = r.controls + tuple(plan_control(list(plans), controlnet) for controlnet in controlnets)
    checked(lambda: check_controls(controls, r.width, r.height), "plan")
    job.request, job.plans = replace(r, controls=controls), plans


def layout_controlnets(studio, model_name: str) -> list:
    """The served layout ControlNets that steer the model; ApiError saying what is served otherwise."""
    steers = studio.controls.steers(studio.catalog)
    entries = studio.controls.entries
    found = [entries[name].control for name, models in steers.items()
             if model_name in models and entries[name].control.kind == PLAN_KIND]
    if not found:
        served = "; ".join(f"{name} ({entries[name].control.kind or 'any kind'}, steers "
                           f"{', '.join(models) or 'no served model'})" for name, models in steers.items())
        raise ApiError(400, f"plan-then-draw needs a layout ControlNet that steers the model {model_name!r}; this "
                            f"server has {served or 'no ControlNets'} (start it with --control FOLDER, e.g. "
                            "models/cn-layout for the default model)", "plan")
    return found


def plan_of(job: Job, seed: int) -> Plan | None:
    """The plan the image of `seed` was drawn from, if the job planned its images."""
    return next((plan for plan in job.plans if plan.seed == seed), None)
