"""Issue 22's table: what denoising a clip's frames jointly buys, measured by the motion verifier.

On the held-out motion prompts (world/motion.py HELDOUT_MOTION_PROMPTS) x seeds, each row is read by
verify_clip (bench/video_baseline.py says what each column checks):

  ground truth        the rendered clips: the verifier's ceiling
  frames drawn alone  the image model draws each frame from its still caption with the clip's seed
  text-to-video       the video model, the frames denoised jointly from the motion prompt
  image-to-video      the video model given the clip's true first frame (rendered), the rest generated
  planned             with --plan CONTROLNET: every frame's layout map planned from the prompt with the
                      clip's seed (pipeline/video_plan.py, LVD) and drawn by that layout ControlNet, by the
                      video model (jointly) and, beside it, by the image model frame by frame from each
                      frame's still caption and map (what joint denoising buys once the layout is given)

and the time to make one clip (the default 8 frames at 64 px, the model's default sampler and steps) on
one and on two threads, the issue's speed target being 3 s.

    python bench/video.py --video models/video                   # 22 prompts x 4 seeds
    python bench/video.py --video models/video --limit 3 --seeds 0 --steps 4   # a smoke test
    python bench/video.py --video models/video --plan models/cn-layout --skip-unplanned   # the planned rows
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from video_baseline import frame_by_frame, ground_truth, score, table
from pixeldrift.pipeline.plan import PLAN_STRENGTH
from pixeldrift.pipeline.video_plan import ClipControl, plan_clip
from pixeldrift.world import caption
from pixeldrift.world.motion import HELDOUT_MOTION_PROMPTS, frame_specs, render_clip


def joint(video, request, settings, seeds: list[int], first_frame: bool, plan=None):
    """The video model's clip for (clip, seed); all seeds of a prompt drawn in one batch. `plan`: (a loaded
    layout ControlNet, its strength) to draw every frame's planned layout map."""
    made: dict[tuple[str, int], object] = {}

    def generate(clip, seed: int):
        key = repr(clip)
        if (key, seed) not in made:
            prompt = request.prompt_of[key]
            firsts = None
            if first_frame:
                firsts = [Image.fromarray(render_clip(clip, settings.frames, video.size, s)[0]) for s in seeds]
            prompts, controls = [prompt] * len(seeds), None
            if plan is not None:  # each seed's own plan: its caption and its maps
                plans = [plan_clip(prompt, s, settings.frames, video.size) for s in seeds]
                prompts = [p.caption for p in plans]
                controls = [ClipControl(plan[0], np.stack([p.maps for p in plans]), plan[1])]
            clips = video.generate(prompts, seeds, request.settings, settings, firsts, controls=controls)
            made.update({(key, s): c for s, c in zip(seeds, clips)})
        return made[(key, seed)]
    return generate


def planned_frames(model, request, frames: int, plan, prompt_of: dict):
    """The planned baseline: each frame drawn alone by the image model from the long caption of its planned
    still and its planned layout map (the clip's seed for every frame), through the layout ControlNet `plan` =
    (model, strength)."""
    from dataclasses import replace

    from pixeldrift.pipeline.control import Control

    def generate(clip, seed: int) -> np.ndarray:
        decided = plan_clip(prompt_of[repr(clip)], seed, frames, model.config.image_size)
        prompts = [caption(still, "long") for still in frame_specs(decided.clip, frames)]
        control = Control(plan[0], tuple(Image.fromarray(m) for m in decided.maps), plan[1])
        images = model.sample(prompts, [seed] * frames, replace(request, controls=(control,)))
        return np.stack([np.asarray(image.convert("RGB")) for image in images])
    return generate


class Request:
    """The sampling settings, and each parsed clip's prompt text (score() hands the generators parsed clips)."""

    def __init__(self, settings, prompts):
        from pixeldrift.world.motion import parse_clip

        self.settings = settings
        self.prompt_of = {repr(parse_clip(p)): p for _, p in prompts}


def clip_seconds(video, request, settings, threads: int, repeats: int = 3, plan=None) -> float:
    """The median time of one clip of "a red circle moving right" (planned, and its plan made, with `plan`)."""
    torch.set_num_threads(threads)

    def one(seed: int) -> None:
        prompt, controls = "a red circle moving right", None
        if plan is not None:
            decided = plan_clip(prompt, seed, settings.frames, video.size)
            prompt, controls = decided.caption, [ClipControl(plan[0], decided.maps[None], plan[1])]
        video.generate([prompt], [seed], request, settings, controls=controls)

    one(0)  # warm-up
    times = []
    for seed in range(repeats):
        started = time.perf_counter()
        one(seed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", default="models/video", help="video model folder")
    parser.add_argument("--model", default=None, help="image model folder for the baseline (default: the embedded)")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--steps", type=int, default=None, help="default: the models'")
    parser.add_argument("--guidance", type=float, default=None, help="text guidance (default: the models')")
    parser.add_argument("--image-guidance", type=float, default=None, help="default: the video model's")
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--plan", default=None, metavar="CONTROLNET",
                        help="a layout ControlNet folder: add the planned rows (LVD)")
    parser.add_argument("--plan-strength", type=float, default=PLAN_STRENGTH)
    parser.add_argument("--skip-unplanned", action="store_true", help="only the planned rows (with --plan)")
    args = parser.parse_args()
    from dataclasses import replace

    from pixeldrift.pipeline import GenerationRequest, load_model
    from pixeldrift.pipeline.video_folder import load_video_model

    video = load_video_model(args.video)
    settings = video.defaults if args.image_guidance is None else replace(video.defaults,
                                                                           image_guidance=args.image_guidance)
    frames, size = settings.frames, video.size
    r = GenerationRequest(prompt="-", steps=args.steps, guidance=args.guidance, width=size, height=size)
    prompts = list(HELDOUT_MOTION_PROMPTS[:args.limit])
    seeds = [int(s) for s in args.seeds.split(",")]
    request = Request(r, prompts)
    ways = [("ground truth (rendered clips)", ground_truth(frames, size))]
    image_model = None if args.skip_baseline else load_model(args.model)
    if not args.skip_unplanned:
        if image_model is not None:
            ways.append(("frames drawn alone (image model)", frame_by_frame(image_model, r, frames)))
        ways += [("text-to-video (joint)", joint(video, request, settings, seeds, first_frame=False)),
                 ("image-to-video (true first frame)", joint(video, request, settings, seeds, first_frame=True))]
    plan = None
    if args.plan is not None:
        from pixeldrift.pipeline.controlnet_folder import load_controlnet

        plan = (load_controlnet(args.plan), args.plan_strength)
        if image_model is not None:
            alone = planned_frames(image_model, r, frames, plan, request.prompt_of)
            ways.append(("frames drawn alone, planned (image model + layout)", alone))
        ways.append(("text-to-video, planned (joint + layout)", joint(video, request, settings, seeds, False, plan)))
    torch.set_num_threads(args.threads)
    results = []
    for name, generate in ways:
        values, seconds = score(generate, prompts, seeds)
        results.append((name, values))
        print(f"{name}: {seconds:.1f} s", flush=True)
    steps = r.validated(video.image_model.sampling_defaults, video.image_model.limits)
    planned = f"; planned rows: {args.plan} at strength {args.plan_strength:g}" if args.plan else ""
    print(f"\n{len(prompts)} held-out motion prompts x {len(seeds)} seeds, {frames} frames at {size} px; "
          f"{steps.sampler} {steps.steps} steps, text guidance {steps.guidance:g}, image guidance "
          f"{settings.image_guidance:g}{planned}\n")
    print(table([(name, values["all"]) for name, values in results], "frames drawn by"))
    categories = list(dict.fromkeys(category for category, _ in prompts))
    for name, values in results[1:]:
        print(f"\n{name}, by category\n")
        print(table([(c, values[c]) for c in categories], "category"))
    print("\nseconds for one clip (median of 3):")
    for kind, planning in (("", None), ("planned, ", plan if args.plan is not None else False)):
        for threads in (1, 2):
            if planning is not False:
                seconds = clip_seconds(video, r, settings, threads, plan=planning)
                print(f"  {kind}{threads} thread{'s' if threads > 1 else ''}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
