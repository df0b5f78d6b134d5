"""Score distillation (SDS, VSD) on held-out object prompts: verifier accuracy and over-saturation by method.

Every run optimises one picture per prompt (the held-out "single object" and "two objects"
prompts by default: 17) from the same seed, for the same number of iterations, and the
world verifier judges each final picture against its prompt's scene. Saturation is the mean
HSV saturation of the picture's pixels; "clipped" the share of pixel channels at 0 or 255:
SDS's known over-saturation shows in both as guidance grows. Reference rows: the world's own
renders of the prompts (the truth) and the model's ordinary sampling (its default sampler,
steps and guidance).

A run is [METHOD:]PICTURE:SCHEDULE:GUIDANCE[:RESCALE], e.g. latent:random:7.5 or blobs:annealed:25 or
latent:random:100:0.7 (CFG rescale 0.7); METHOD is sds (the default) or vsd, variational score
distillation (ProlificDreamer), e.g. vsd:latent:annealed:7.5, its LoRA set by the --lora-* options.

    nice -n 19 python bench/score_distillation.py --figure docs/score_distillation.png
    python bench/score_distillation.py --runs latent:random:7.5 --iterations 50   # a quick look
    nice -n 19 python bench/score_distillation.py --runs latent:annealed:7.5,vsd:latent:annealed:7.5 --seeds 0,1,2,3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixeldrift import world
from pixeldrift.applications.score_distillation import PICTURES, DistillationSettings, distil
from pixeldrift.applications.variational_score_distillation import VSDSettings, distil_variational
from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model
from pixeldrift.pipeline.contact_sheet import labelled_sheet
from pixeldrift.pipeline.pixels import pixels_to_images
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord

RUNS = ("latent:random:7.5", "latent:random:25", "latent:random:100", "latent:annealed:7.5", "latent:annealed:25",
        "latent:random:100:0.7", "blobs:random:7.5", "blobs:annealed:7.5", "vsd:latent:random:7.5",
        "vsd:latent:annealed:7.5")
METHODS = ("sds", "vsd")


def parse_run(text: str, iterations: int, seed: int) -> tuple[str, DistillationSettings]:
    """[METHOD:]PICTURE:SCHEDULE:GUIDANCE[:RESCALE] as (method, settings); the method is sds unless named."""
    fields = text.split(":")
    method = fields.pop(0) if fields[0] in METHODS else "sds"
    if not 3 <= len(fields) <= 4 or fields[0] not in PICTURES:
        raise ValueError(f"a run is [METHOD:]PICTURE:SCHEDULE:GUIDANCE[:RESCALE] (METHOD one of {', '.join(METHODS)}, "
                         f"PICTURE one of {', '.join(PICTURES)}), got {text!r}")
    picture, schedule, guidance, *rescale = fields
    settings = DistillationSettings(picture=picture, schedule=schedule, guidance=float(guidance),
                                    guidance_rescale=float(rescale[0]) if rescale else 0.0,
                                    iterations=iterations, seed=seed)
    settings.check()
    return method, settings


def saturation(images: list[Image.Image]) -> tuple[float, float]:
    """(mean HSV saturation, share of channels at 0 or 255) over all pixels of all images."""
    hsv = np.stack([np.asarray(image.convert("HSV"), np.float32) for image in images])
    rgb = np.stack([np.asarray(image, np.uint8) for image in images])
    return float(hsv[..., 1].mean() / 255), float(((rgb == 0) | (rgb == 255)).mean())


def row(name: str, images: list[Image.Image], prompts: list[str], seconds: float) -> tuple[str, int]:
    correct = sum(world.verify(image, world.parse_prompt(p)).ok for image, p in zip(images, prompts))
    sat, clipped = saturation(images)
    return (f"| {name} | {correct}/{len(prompts)} ({correct / len(prompts):.0%}) | {sat:.0%} | {clipped:.1%} | "
            f"{seconds:.0f} |", correct)


def references(model, prompts: list[str], seeds: list[int]) -> list[tuple[str, list[Image.Image], float]]:
    n = len(prompts)  # image i of seed s gets seed s n + i: no two images share one
    truth = [world.render_image(world.parse_prompt(p), size=model.limits.default_width, seed=seed * n + i)
             for seed in seeds for i, p in enumerate(prompts)]
    started = time.perf_counter()
    sampled = [image for seed in seeds for image in
               model.sample(prompts, [seed * n + i for i in range(n)], GenerationRequest(prompt="-"))]
    return [("world renders (the truth)", truth, 0.0), ("the model's own sampling", sampled,
                                                        time.perf_counter() - started)]


def distilled(model, text: str, prompts: list[str], seeds: list[int], iterations: int, vsd: VSDSettings,
              together: bool = False) -> list[Image.Image]:
    """One picture per prompt and seed, seed by seed: each seed starts every picture (and VSD's LoRA) afresh.
    `together`: every seed's pictures in one run from the first seed, so VSD's LoRA sees len(seeds) particles
    of each prompt."""
    batches = [(seeds[0], prompts * len(seeds))] if together else [(seed, prompts) for seed in seeds]
    images = []
    for seed, batch in batches:
        method, settings = parse_run(text, iterations, seed)
        pixels = distil(model, batch, settings) if method == "sds" else \
            distil_variational(model, batch, settings, vsd)
        images += pixels_to_images(pixels)
    return images


def run_name(text: str) -> str:
    """The table's name of a run: its method in capitals, then the rest."""
    method, _, rest = text.partition(":")
    return f"{method.upper()} {rest}" if method in METHODS else f"SDS {text}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--categories", default="single object,two objects", help="held-out categories, ','-separated")
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seeds", default="0", help="','-separated; every prompt is distilled once per seed")
    parser.add_argument("--figure", type=Path, help="write every other prompt's pictures (8), a row per run, here")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lora-rank", type=int, default=VSDSettings.rank, help="vsd runs: the particles' LoRA rank")
    parser.add_argument("--lora-learning-rate", type=float, default=VSDSettings.learning_rate,
                        help="vsd runs: Adam's learning rate for the particles' LoRA")
    parser.add_argument("--lora-steps", type=int, default=VSDSettings.steps,
                        help="vsd runs: LoRA steps after every picture step")
    parser.add_argument("--together", action="store_true",
                        help="distil every seed's pictures in one run (from the first seed): VSD's particles")
    args = parser.parse_args()
    vsd = VSDSettings(rank=args.lora_rank, alpha=float(args.lora_rank), learning_rate=args.lora_learning_rate,
                      steps=args.lora_steps)
    vsd.check()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    categories, seeds = args.categories.split(","), [int(s) for s in args.seeds.split(",")]
    prompts = [p for c, p in world.HELDOUT_PROMPTS if c in categories]
    every = prompts * len(seeds)
    lines = ["| run | verifier accuracy | mean saturation | clipped channels | seconds |", "|---|---:|---:|---:|---:|"]
    shown: list[tuple[str, list[Image.Image]]] = []
    for name, images, seconds in references(model, prompts, seeds):
        lines.append(row(name, images, every, seconds)[0])
        shown.append((name.split(" (")[0], images))
    for text in args.runs.split(","):
        started = time.perf_counter()
        images = distilled(model, text, prompts, seeds, args.iterations, vsd, args.together)
        line, correct = row(run_name(text), images, every, time.perf_counter() - started)
        lines.append(line)
        shown.append((text, images))
        print(f"  {text}: {correct}/{len(every)} in {time.perf_counter() - started:.0f} s", flush=True)
    together = ", the seeds' pictures together" if args.together else ""
    lora = f"; VSD's LoRA: {vsd}" if "vsd:" in args.runs else ""
    print(f"\n{len(prompts)} held-out prompts ({args.categories}) x seeds {args.seeds}, {args.iterations} iterations"
          f"{together}{lora}\n")
    print("\n".join(lines))
    if args.figure:
        write_figure(args.figure, shown, prompts, model.name, args)


def write_figure(path: Path, shown, prompts: list[str], model_name: str, args) -> None:
    picked = list(range(0, len(prompts), 2))[:8]  # singles and pairs alike
    images = [row_images[i] for _, row_images in shown for i in picked]
    figure = labelled_sheet(images, len(picked), [f"prompt {i + 1}" for i in picked], [name for name, _ in shown],
                            title=f"score distillation, {args.iterations} iterations (bench/score_distillation.py)")
    record = GenerationRecord(prompt=" / ".join(prompts[i] for i in picked), steps=args.iterations,
                              sampler="score distillation",
                              seed=int(args.seeds.split(",")[0]), width=figure.width, height=figure.height,
                              model=model_name,
                              extra={"Figure": "bench/score_distillation.py: a row per run"})
    save_labelled_png(figure, path, record)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
