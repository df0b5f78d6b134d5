"""Issue 22's table: what denoising a clip's frames jointly buys, measured by the motion verifier.

On the held-out motion prompts (world/motion.py HELDOUT_MOTION_PROMPTS) x seeds, each row is read by
verify_clip (bench/video_baseline.py says what each column checks):

  ground truth        the rendered clips: the verifier's ceiling
  frames drawn alone  the image model draws each frame from its still caption with the clip's seed
  text-to-video       the video model, the frames denoised jointly from the motion prompt
  image-to-video      the video model given the clip's true first frame (rendered), the rest generated

and the time to make one clip (the default 8 frames at 64 px, the model's default sampler and steps) on
one and on two threads, the issue's speed target being 3 s.

    python bench/video.py --video models/video                   # 22 prompts x 4 seeds
    python bench/video.py --video models/video --limit 3 --seeds 0 --steps 4   # a smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from PIL import Image

from video_baseline import frame_by_frame, ground_truth, score, table
from pixeldrift.world.motion import HELDOUT_MOTION_PROMPTS, render_clip


def joint(video, request, settings, seeds: list[int], first_frame: bool):
    """The video model's clip for (clip, seed); all seeds of a prompt drawn in one batch."""
    made: dict[tuple[str, int], object] = {}

    def generate(clip, seed: int):
        key = repr(clip)
        if (key, seed) not in made:
            prompt = request.prompt_of[key]
            firsts = None
            if first_frame:
                firsts = [Image.fromarray(render_clip(clip, settings.frames, video.size, s)[0]) for s in seeds]
            clips = video.generate([prompt] * len(seeds), seeds, request.settings, settings, firsts)
            made.update({(key, s): c for s, c in zip(seeds, clips)})
        return made[(key, seed)]
    return generate


class Request:
    """The sampling settings, and each parsed clip's prompt text (score() hands the generators parsed clips)."""

    def __init__(self, settings, prompts):
        from pixeldrift.world.motion import parse_clip

        self.settings = settings
        self.prompt_of = {repr(parse_clip(p)): p for _, p in prompts}


def clip_seconds(video, request, settings, threads: int, repeats: int = 3) -> float:
    torch.set_num_threads(threads)
    video.generate(["a red circle moving right"], [0], request, settings)  # warm-up
    times = []
    for seed in range(repeats):
        started = time.perf_counter()
        video.generate(["a red circle moving right"], [seed], request, settings)
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
    if not args.skip_baseline:
        ways.append(("frames drawn alone (image model)", frame_by_frame(load_model(args.model), r, frames)))
    ways += [("text-to-video (joint)", joint(video, request, settings, seeds, first_frame=False)),
             ("image-to-video (true first frame)", joint(video, request, settings, seeds, first_frame=True))]
    torch.set_num_threads(args.threads)
    results = []
    for name, generate in ways:
        values, seconds = score(generate, prompts, seeds)
        results.append((name, values))
        print(f"{name}: {seconds:.1f} s", flush=True)
    steps = r.validated(video.image_model.sampling_defaults, video.image_model.limits)
    print(f"\n{len(prompts)} held-out motion prompts x {len(seeds)} seeds, {frames} frames at {size} px; "
          f"{steps.sampler} {steps.steps} steps, text guidance {steps.guidance:g}, image guidance "
          f"{settings.image_guidance:g}\n")
    print(table([(name, values["all"]) for name, values in results], "frames drawn by"))
    categories = list(dict.fromkeys(category for category, _ in prompts))
    for name, values in results[1:]:
        print(f"\n{name}, by category\n")
        print(table([(c, values[c]) for c in categories], "category"))
    print("\nseconds for one clip (median of 3):")
    for threads in (1, 2):
        print(f"  {threads} thread{'s' if threads > 1 else ''}: {clip_seconds(video, r, settings, threads):.2f} s")


if __name__ == "__main__":
    main()
