"""The trained upscaler (SR3) beside bicubic and Lanczos enlargement, 64 -> 256 px, measured by exact truth.

(a) World renders: scene i is held-out prompt i (in turn) with its wildcards filled from seed i, rendered
    at 256 px with render seed i; the input is that render box-reduced to 64 px (the world's own 64-px
    render, signs aside: data/upscale_stream.py). Each method enlarges the input to 256 px; against the
    true 256-px render: PSNR (dB, 8-bit RGB) and SSIM (evaluate/ssim.py), and the verifier's accuracy
    against the scene's spec. "true render" is the ceiling, "input (64 px)" the input read as it is.
(b) Generations: the text-to-image model (--base) draws the held-out prompts at 64 px, one image per
    seed; each method enlarges the drawing to 256 px; the verifier's accuracy against the prompt.
    "as drawn" is the drawing itself; "hires lanczos @ s" and "hires sr @ s" redraw the enlargement by
    image-to-image at strength s (pipeline/hires_fix.py; the lanczos row is bench/hires_fix.py's best).

The verifier reads 32, 64 and 128-px images, so a 256-px image is read after a 2x box reduction to
128 px (as bench/hires_fix.py reads; for a render, that is the 128-px render). Accuracy: the mean of the
category accuracies (GenEval's convention, evaluate/compose.overall) and all images pooled. The upscaler
enlarges image i from seed i (a) or from the drawing's seed (b). Seconds: CPU seconds of this process
per image for the enlargement alone (time.process_time: with --threads 1, the compute, even on a busy
machine).

    nice -n 19 python bench/upscale.py --model models/upscaler --threads 1                     # the full run
    nice -n 19 python bench/upscale.py --model FOLDER --scenes 4 --limit 2 --seeds 0 --steps 2  # a smoke run
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

from pixeldrift import world
from pixeldrift.applications.inversion import psnr
from pixeldrift.data.upscale_stream import box_reduce
from pixeldrift.evaluate.compose import SampleResult, load_prompts, overall, score
from pixeldrift.evaluate.ssim import ssim
from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model
from pixeldrift.pipeline.hires_fix import HiresFix, second_pass
from pixeldrift.pipeline.upscaler import UpscaleSettings
from pixeldrift.pipeline.upscaler_folder import load_upscaler

VERIFIER_MAX = 128   # the largest side the verifier reads
RESAMPLERS = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}


def readable(image: Image.Image) -> Image.Image:
    """The image at a size the verifier reads: halved by box averaging until it is at most 128 px."""
    while image.width > VERIFIER_MAX:
        image = image.reduce(2)
    return image


def held_out_scenes(count: int, side: int) -> list[tuple[str, world.Scene, Image.Image]]:
    """(category, spec, render at `side`) for scene 0 .. count-1: the held-out prompts in turn, wildcards and render
    from the scene's index (a prompt that does not render at this side is passed over)."""
    scenes, index = [], 0
    while len(scenes) < count and index < 10 * count + 100:
        category, prompt = world.HELDOUT_PROMPTS[index % len(world.HELDOUT_PROMPTS)]
        spec = world.resolve_wildcards(world.parse_prompt(prompt), random.Random(index))
        try:
            scenes.append((category, spec, world.render_image(spec, side, seed=index)))
        except world.SpecError:
            pass
        index += 1
    return scenes


def enlarge(method: str, images: list[Image.Image], seeds: list[int], upscaler, settings: UpscaleSettings):
    """The images enlarged to the upscaler's output side by `method` (a resampler, or 'sr'), and CPU seconds."""
    began = time.process_time()
    side = upscaler.out_size
    if method == "sr":
        out = []
        for start in range(0, len(images), 8):
            out += upscaler.upscale_images(images[start:start + 8], seeds[start:start + 8], settings)
    else:
        out = [image.resize((side, side), RESAMPLERS[method]) for image in images]
    return out, time.process_time() - began


def verdicts(images: list[Image.Image], specs: list[world.Scene], categories: list[str], seeds: list[int]):
    return [SampleResult(c, "", seed, world.verify(readable(image), spec).ok, "")
            for image, spec, c, seed in zip(images, specs, categories, seeds)]


def accuracy(results: list[SampleResult]) -> tuple[float, float]:
    """(mean of the category accuracies, all images pooled)."""
    return overall(score(results)), sum(r.ok for r in results) / len(results)


def renders_table(upscaler, settings: UpscaleSettings, count: int) -> list[str]:
    """Part (a): PSNR, SSIM and the verifier on held-out scenes, each method against the true render."""
    side, factor = upscaler.out_size, upscaler.config.factor
    scenes = held_out_scenes(count, side)
    categories, specs, truths = (list(column) for column in zip(*scenes))
    inputs = [box_reduce(truth, factor) for truth in truths]
    seeds = list(range(len(scenes)))
    lines = [f"(a) {len(scenes)} held-out world scenes: {inputs[0].width}-px box reduction -> {side} px, against "
             f"the true {side}-px render", "",
             "| method | PSNR (dB) | SSIM | verifier (mean of categories) | all images | CPU s / image |",
             "|---|---:|---:|---:|---:|---:|"]
    rows = [("input (64 px)", inputs, None), ("true render", truths, None)]
    for method in ("bicubic", "lanczos", "sr"):
        images, seconds = enlarge(method, inputs, seeds, upscaler, settings)
        rows.append((method, images, seconds))
    for name, images, seconds in rows:
        mean, pooled = accuracy(verdicts(images, specs, categories, seeds))
        if images[0].size == truths[0].size:
            fidelity = [f"{sum(map(psnr, images, truths)) / len(images):.2f}",
                        f"{sum(map(ssim, images, truths)) / len(images):.3f}"]
        else:
            fidelity = ["-", "-"]
        cost = "-" if seconds is None else f"{seconds / len(images):.2f}"
        lines.append(f"| {name} | {' | '.join(fidelity)} | {mean:.1%} | {pooled:.1%} | {cost} |")
    return lines


def generations_table(base, upscaler, settings: UpscaleSettings, args) -> list[str]:
    """Part (b): the verifier on the base model's held-out drawings, enlarged by each method."""
    side, low = upscaler.out_size, upscaler.config.low_res_size
    prompts = spread(load_prompts("heldout"), args.limit)
    jobs = [(p, seed) for p in prompts for seed in parse_seeds(args.seeds)]
    request = GenerationRequest("-", steps=args.first_steps, width=low, height=low).validated(
        base.sampling_defaults, base.limits)
    methods = ["as drawn", "bicubic", "lanczos", "sr"]
    hires = [] if args.hires_strength is None else \
        [(f"hires {name} @ {args.hires_strength:g}", HiresFix(scale=side / low, upscaler=name,
                                                                strength=args.hires_strength,
                                                                upscaler_model=upscaler if name == "sr" else None))
         for name in ("lanczos", "sr")]
    found = {name: ([], 0.0) for name in methods + [name for name, _ in hires]}
    for start in range(0, len(jobs), 8):
        batch = jobs[start:start + 8]
        texts, seeds = [p.prompt for p, _ in batch], [seed for _, seed in batch]
        latents, _ = base.sample_latents(texts, seeds, request)
        drawn = base.to_images(latents)
        outputs = {"as drawn": (drawn, 0.0)}
        for method in methods[1:]:
            outputs[method] = enlarge(method, drawn, seeds, upscaler, settings)
        for name, fix in hires:
            began = time.process_time()
            images = second_pass(base, texts, seeds, replace(request, hires=fix), latents)
            outputs[name] = (images, time.process_time() - began)
        specs = [world.parse_prompt(text) for text in texts]
        for name, (images, seconds) in outputs.items():
            results, total = found[name]
            found[name] = (results + verdicts(images, specs, [p.category for p, _ in batch], seeds), total + seconds)
        print(f"  {min(start + 8, len(jobs))} of {len(jobs)} drawings done", flush=True)
    lines = [f"(b) {len(jobs)} drawings of {args.base} ({len(prompts)} held-out prompts x seeds {args.seeds}, "
             f"{args.first_steps} steps) at {low} px, enlarged to {side}", "",
             "| method | side (px) | verifier read at | verifier (mean of categories) | all images | CPU s / image |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, (results, seconds) in found.items():
        shown = low if name == "as drawn" else side
        mean, pooled = accuracy(results)
        lines.append(f"| {name} | {shown} | {min(shown, VERIFIER_MAX)} | {mean:.1%} | {pooled:.1%} | "
                     f"{seconds / len(results):.2f} |")
    return lines


def spread(items: list, limit: int | None) -> list:
    """`limit` items evenly spread over the list (every category of the held-out set), or all of them."""
    if not limit or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def parse_seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR.parent / "upscaler"), help="the upscaler folder")
    parser.add_argument("--base", default=str(DEFAULT_MODEL_DIR), help="the text-to-image model of part (b)")
    parser.add_argument("--scenes", type=int, default=146, help="world scenes of part (a) (2 per held-out prompt)")
    parser.add_argument("--limit", type=int, default=None, help="part (b): this many prompts, spread over the set")
    parser.add_argument("--seeds", default="0,1", help="part (b): one drawing per prompt and seed")
    parser.add_argument("--steps", type=int, default=None, help="the upscaler's steps [its default]")
    parser.add_argument("--sampler", default=None, help="the upscaler's sampler [its default]")
    parser.add_argument("--first-steps", type=int, default=20, help="part (b): the drawings' steps")
    parser.add_argument("--hires-strength", type=float, default=0.3, help="the hires rows' strength")
    parser.add_argument("--no-hires", dest="hires_strength", action="store_const", const=None,
                        help="leave out the hires rows of part (b)")
    parser.add_argument("--parts", default="a,b", help="which tables: a, b or a,b")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    upscaler = load_upscaler(Path(args.model))
    settings = UpscaleSettings(sampler=args.sampler, steps=args.steps).filled(upscaler.config)
    print(f"upscaler {args.model}: {settings.sampler}, {settings.steps} steps; torch threads {torch.get_num_threads()}")
    if "a" in args.parts.split(","):
        print("\n".join(renders_table(upscaler, settings, args.scenes)), flush=True)
    if "b" in args.parts.split(","):
        base = load_model(args.base)
        print("\n" + "\n".join(generations_table(base, upscaler, settings, args)))


if __name__ == "__main__":
    main()
