"""Panoramas side by side: independent tiles, MultiDiffusion, SyncDiffusion (and the model on the whole canvas).

For each prompt (one kind of object: per-tile reading needs it) and seed, a WIDTH x 64 panorama
is made by every method with the same noise, sampler, steps and guidance, and measured by
pixeldrift.evaluate.panorama_coherence: background and object colour spread across its 64 px
tiles, the colour step across tile borders vs elsewhere, and the share of tiles the world
verifier reads as the prompt. "whole canvas" runs the model once on the full width (its
attention sees it all; it was trained at 64 px only). Writes one figure (the first seed of the
first two prompts, a row per method) and prints one markdown table.

    nice -n 19 python bench/panorama.py --seeds 0,1 --figure docs/panorama.png
    python bench/panorama.py --prompts "two red circles" --seeds 0 --methods independent,multidiffusion  # a look
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pixeldrift import world
from pixeldrift.applications.panorama import METHODS, PanoramaSettings, generate_panorama
from pixeldrift.evaluate import panorama_coherence as coherence
from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model
from pixeldrift.pipeline.contact_sheet import labelled_sheet
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord

PROMPTS = ("two red circles", "three blue squares", "two green triangles on a cream background",
           "two purple diamonds", "an orange star on a light blue background",
           "two black crosses on a white background")
WHOLE = "whole canvas"


def make(model, method: str, prompt: str, seed: int, args) -> tuple[object, float]:
    request = GenerationRequest(prompt, width=args.width, height=64, seed=seed, steps=args.steps,
                                guidance=args.guidance, sampler=args.sampler)
    started = time.perf_counter()
    if method == WHOLE:
        image = model.generate(request)[0].image
    else:
        settings = PanoramaSettings(method, stride=args.stride, sync_strength=args.sync_strength,
                                    sync_sigma_stop=args.sync_sigma_stop)
        image = generate_panorama(model, request, settings)[0].image
    return image, time.perf_counter() - started


def measure(image, spec, tile: int) -> dict[str, float]:
    seams = coherence.seam_steps(image, tile)
    return {"background": coherence.background_spread(image, tile),
            "objects": coherence.object_colour_spread(image, tile),
            "border": seams.at_borders, "elsewhere": seams.elsewhere,
            "tiles": coherence.tile_accuracy(image, spec, tile)}


def table(rows: dict[str, list[dict[str, float]]], count: int) -> list[str]:
    lines = [f"| method | background spread | object colour spread | colour step at tile borders | elsewhere | "
             f"tiles read as the prompt | s / panorama |", "|---|" + "---:|" * 6]
    for method, cells in rows.items():
        mean = {key: float(np.nanmean([c[key] for c in cells])) for key in cells[0]}
        lines.append(f"| {method} | {mean['background']:.1f} | {mean['objects']:.1f} | {mean['border']:.2f} | "
                     f"{mean['elsewhere']:.2f} | {mean['tiles']:.0%} | {mean['seconds']:.1f} |")
    lines.append(f"\nmeans over {count} panoramas; spreads and steps in 8-bit RGB units (lower is more coherent)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--prompts", default=";".join(PROMPTS), help="';'-separated one-kind object prompts")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--methods", default=",".join(METHODS + (WHOLE,)))
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--stride", type=int, default=None, help="pixels; half the window by default")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--sync-strength", type=float, default=PanoramaSettings.sync_strength)
    parser.add_argument("--sync-sigma-stop", type=float, default=PanoramaSettings.sync_sigma_stop)
    parser.add_argument("--figure", type=Path, help="write the first seed's panoramas of the first 2 prompts here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    tile = model.limits.default_height
    prompts, seeds = args.prompts.split(";"), [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    shown = []
    for prompt in prompts:
        spec = world.parse_prompt(prompt)
        for seed in seeds:
            for method in methods:
                image, seconds = make(model, method, prompt, seed, args)
                rows[method].append({**measure(image, spec, tile), "seconds": seconds})
                if seed == seeds[0] and len(shown) < 2 * len(methods):
                    shown.append(((method, prompt), image))
            print(f"  {prompt!r} seed {seed}: " + ", ".join(f"{m} {rows[m][-1]['tiles']:.0%}" for m in methods),
                  flush=True)
    print("\n".join(table(rows, len(prompts) * len(seeds))))
    if args.figure:
        shown_prompts = list(dict.fromkeys(prompt for (_, prompt), _ in shown))
        figure = labelled_sheet([image for _, image in shown], 1, [], [method for (method, _), _ in shown],
                                title=" / ".join(shown_prompts), gap=4)
        defaults = model.sampling_defaults
        record = GenerationRecord(prompt=" / ".join(shown_prompts), steps=args.steps,
                                  sampler=args.sampler or defaults.sampler,
                                  cfg_scale=args.guidance or defaults.guidance,
                                  seed=seeds[0], width=figure.width, height=figure.height, model=model.name,
                                  extra={"Figure": "bench/panorama.py: per prompt, a row per method"})
        save_labelled_png(figure, args.figure, record)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
