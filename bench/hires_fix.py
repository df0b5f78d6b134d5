"""The hires fix beside plain upscaling, measured by the world's verifier on held-out prompts.

Each prompt and seed is drawn once at the model's own 64 px (the first pass, shared by every
method: the same seed gives the same first pass), then enlarged to each --sizes side by
  bicubic              the 64-px image resized (PIL bicubic), no second pass: the baseline
  hires latent @ s     the latents resized (the webui's "Latent": bilinear), then image-to-image at strength s
  hires lanczos @ s    the image resized by Lanczos and re-encoded, then image-to-image at strength s
(pipeline/hires_fix.py; the second pass runs the last int(steps x s) of --steps steps). The
verifier (pixeldrift.world.verify) reads 32, 64 and 128-px images only, so a 256-px image is
read after a 2x box reduction to 128 px (PIL Image.reduce); 128-px images are read as they are.
"as drawn" is the 64-px first pass itself. Accuracy: the mean of the category accuracies
(GenEval's convention, evaluate/compose.overall) and all images pooled. Seconds per image, the
first pass included in every row: CPU seconds of this process (time.process_time: with
--threads 1, the compute, even on a machine busy with other work) and wall-clock seconds.

    nice -n 19 python bench/hires_fix.py --seeds 0,1                      # the full run
    nice -n 19 python bench/hires_fix.py --limit 8 --seeds 0 --threads 1  # a smoke run
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from PIL import Image

from pixeldrift.evaluate.compose import SampleResult, load_prompts, overall, score
from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model
from pixeldrift.pipeline.hires_fix import HiresFix, second_pass
from pixeldrift.world import parse_prompt, verify

FIRST = 64
VERIFIER_MAX = 128   # the largest side the verifier reads


def spread(items: list, limit: int | None) -> list:
    """`limit` items evenly spread over the list (every category of the held-out set), or all of them."""
    if not limit or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def methods(sizes: list[int], strengths: list[float]) -> list[tuple[str, int, HiresFix | None]]:
    """(name, side, hires fix or None for bicubic) per row, after the 64-px 'as drawn' row."""
    rows = []
    for side in sizes:
        rows.append(("bicubic", side, None))
        for upscaler in ("latent", "lanczos"):
            rows += [(f"hires {upscaler} @ {s:g}", side, HiresFix(scale=side / FIRST, upscaler=upscaler, strength=s))
                     for s in strengths]
    return rows


def readable(image: Image.Image) -> Image.Image:
    """The image at a size the verifier reads: halved by box averaging until it is at most 128 px."""
    while image.width > VERIFIER_MAX:
        image = image.reduce(2)
    return image


def run(model, prompts, seeds: list[int], rows, args) -> dict[tuple[str, int], dict]:
    """Every row's verdicts and seconds, batch by batch over (prompt, seed) jobs sharing their first pass."""
    jobs = [(p, seed) for p in prompts for seed in seeds]
    request = GenerationRequest("-", steps=args.steps, width=FIRST, height=FIRST).validated(
        model.sampling_defaults, model.limits)
    keys = [("as drawn", FIRST)] + [(name, side) for name, side, _ in rows]
    found = {key: {"results": [], "cpu": 0.0, "wall": 0.0} for key in keys}
    for start in range(0, len(jobs), args.batch):
        batch = jobs[start:start + args.batch]
        texts, batch_seeds = [p.prompt for p, _ in batch], [seed for _, seed in batch]
        began = clocks()
        latents, _ = model.sample_latents(texts, batch_seeds, request)
        drawn = model.to_images(latents)
        first = since(began)
        outputs = {("as drawn", FIRST): (drawn, first)}
        for name, side, hires in rows:
            began = clocks()
            if hires is None:
                images = [image.resize((side, side), Image.Resampling.BICUBIC) for image in drawn]
            else:
                images = second_pass(model, texts, batch_seeds, replace(request, hires=hires), latents)
            outputs[(name, side)] = (images, [a + b for a, b in zip(first, since(began))])
        for key, (images, (cpu, wall)) in outputs.items():
            found[key]["cpu"] += cpu
            found[key]["wall"] += wall
            for (p, seed), image in zip(batch, images):
                verdict = verify(readable(image), parse_prompt(p.prompt))
                found[key]["results"].append(SampleResult(p.category, p.prompt, seed, verdict.ok, verdict.explain()))
        print(f"  {min(start + args.batch, len(jobs))} of {len(jobs)} images done", flush=True)
    return found


def clocks() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def since(began: tuple[float, float]) -> list[float]:
    return [now - then for now, then in zip(clocks(), began)]


def table(found: dict, count: int, args) -> list[str]:
    lines = ["| method | side (px) | verifier read at | accuracy (mean of categories) | all images | CPU s / image | "
             "wall s / image |", "|---|---:|---:|---:|---:|---:|---:|"]
    for (name, side), cell in found.items():
        results = cell["results"]
        pooled = sum(r.ok for r in results) / len(results)
        lines.append(f"| {name} | {side} | {min(side, VERIFIER_MAX)} | {overall(score(results)):.1%} | "
                     f"{pooled:.1%} | {cell['cpu'] / len(results):.2f} | {cell['wall'] / len(results):.2f} |")
    lines.append(f"\n{count} images per row ({args.prompts} prompts x seeds {args.seeds}), {args.steps} steps, "
                 f"torch threads {torch.get_num_threads()}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--prompts", default="heldout", help="'heldout' or a file of world prompts")
    parser.add_argument("--limit", type=int, default=None, help="this many prompts, spread over the set")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=20, help="first pass; the second runs steps x strength")
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--strengths", default="0.3,0.5")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    if model.limits.default_width != FIRST:
        parser.error(f"--model draws at {model.limits.default_width} px; this bench's first pass is {FIRST} px")
    prompts = spread(load_prompts(args.prompts), args.limit)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = methods([int(s) for s in args.sizes.split(",")], [float(s) for s in args.strengths.split(",")])
    found = run(model, prompts, seeds, rows, args)
    print("\n".join(table(found, len(prompts) * len(seeds), args)))


if __name__ == "__main__":
    main()
