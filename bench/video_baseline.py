"""The video baseline of issue 22: every frame drawn on its own by the image model, measured by the motion verifier.

For each held-out motion prompt (world/motion.py HELDOUT_MOTION_PROMPTS) and seed, the baseline draws
frame f from the still caption of that frame (caption(frame_specs(clip)[f], "plain")) with the clip's
one seed, as a video made of independent images would; the ground-truth row renders the clips
(render_clip) and is the verifier's ceiling. Every clip is read by verify_clip: per-frame accuracy (the
still verifier on each frame), consistency (readable, count, identity, colour, vessels in every frame),
direction (the objects' direction, or the order of the clock's times, the fills and the letters),
speed (objects only), whole clips correct, and flicker (how much the still background changes between
frames, 0-255: `flicker`). A still caption says nothing of where an object is, so the
baseline draws one picture for every frame of a moving object: that is what it cannot do.
Identical (caption, seed) pairs are drawn once: the model is deterministic for them.

    python bench/video_baseline.py                       # 22 prompts x 4 seeds x 8 frames
    python bench/video_baseline.py --limit 4 --seeds 0 --steps 4   # a smoke test
"""

from __future__ import annotations

import argparse
from collections import defaultdict
import time

import numpy as np
import torch

from pixeldrift.world import caption
from pixeldrift.world.motion import HELDOUT_MOTION_PROMPTS, MovingObjects, frame_specs, parse_clip, render_clip
from pixeldrift.world.verify_motion import verify_clip

COLUMNS = ("per-frame", "consistent", "direction", "speed", "clip correct", "flicker")


def flicker(frames: np.ndarray) -> float:
    """How much a clip's still parts change from frame to frame: the median over pixels of the absolute change
    of a pixel's value (0-255, channels averaged) between consecutive frames, averaged over the clip. The
    world's objects cover a small share of the image, so the median pixel is background: 0 for the rendered
    clips, larger where each frame is drawn anew."""
    steps = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(-1)  # (F - 1, H, W)
    return float(np.median(steps.reshape(len(steps), -1), axis=1).mean())


def frame_by_frame(model, request, frames: int):
    """The baseline: each frame's still caption drawn alone with the clip's seed."""
    drawn: dict[tuple[str, int], np.ndarray] = {}

    def generate(clip, seed: int) -> np.ndarray:
        prompts = [caption(still, "plain") for still in frame_specs(clip, frames)]
        missing = [p for p in dict.fromkeys(prompts) if (p, seed) not in drawn]
        if missing:
            for prompt, image in zip(missing, model.sample(missing, [seed] * len(missing), request)):
                drawn[(prompt, seed)] = np.asarray(image.convert("RGB"))
        return np.stack([drawn[(p, seed)] for p in prompts])
    return generate


def ground_truth(frames: int, size: int):
    return lambda clip, seed: render_clip(clip, frames, size, seed)


def score(generate, prompts, seeds) -> tuple[dict[str, dict[str, list[float]]], float]:
    """Per category and overall ("all"): each column's values (one per clip, per-frame one per frame)."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    started = time.perf_counter()
    for category, prompt in prompts:
        clip = parse_clip(prompt)
        for seed in seeds:
            frames = generate(clip, seed)
            result = verify_clip(frames, clip)
            moving = isinstance(clip, MovingObjects)
            row = {"per-frame": [r.ok for r in result.frames], "consistent": [result.consistent],
                   "direction": [bool(result.passed("direction" if moving else "order"))],
                   "speed": [bool(result.passed("speed"))] if moving else [], "clip correct": [result.ok],
                   "flicker": [flicker(np.asarray(frames))]}
            for key in (category, "all"):
                for column, got in row.items():
                    values[key][column] += got
    return values, time.perf_counter() - started


def table(rows: list[tuple[str, dict[str, list[float]]]], first: str) -> str:
    lines = [f"| {first} | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, columns in rows:
        cells = [("-" if not columns[c] else f"{np.mean(columns[c]):.2f}" if c == "flicker"
                  else f"{np.mean(columns[c]):.1%}") for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: the embedded model)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=None, help="default: the model's")
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from pixeldrift.pipeline import GenerationRequest, load_model

    model = load_model(args.model)
    size = model.config.image_size
    request = GenerationRequest(prompt="-", steps=args.steps, guidance=args.guidance, width=size, height=size)
    prompts = list(HELDOUT_MOTION_PROMPTS[:args.limit])
    seeds = [int(s) for s in args.seeds.split(",")]
    ways = [("ground truth (rendered clips)", ground_truth(args.frames, size)),
            ("baseline: frames drawn independently", frame_by_frame(model, request, args.frames))]
    results = []
    for name, generate in ways:
        values, seconds = score(generate, prompts, seeds)
        results.append((name, values))
        print(f"{name}: {seconds:.1f} s", flush=True)
    print(f"\n{len(prompts)} held-out motion prompts x {len(seeds)} seeds, {args.frames} frames at {size} px; "
          f"the model at {args.steps} steps, guidance {args.guidance if args.guidance is not None else 'default'}\n")
    print(table([(name, values["all"]) for name, values in results], "frames drawn by"))
    categories = list(dict.fromkeys(category for category, _ in prompts))
    print("\nThe baseline by category\n")
    print(table([(c, results[1][1][c]) for c in categories], "category"))


if __name__ == "__main__":
    main()
