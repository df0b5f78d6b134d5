"""ControlNet on the compositional benchmark: the verifier's accuracy per category with the control map taken
from the ground-truth scene, beside the same base model without control (and, for the edges kind, edge F1
between the control map and the output's edges).

Each held-out prompt and seed: parse the prompt into its scene, draw the scene's map with that seed
(pipeline/control_maps.world_control), generate the prompt with the map, verify the image against the
prompt (evaluate/compose.run_compose). Strengths are swept as one row each; strength 0 is the base model.

    python bench/controlnet.py --control models/cn-layout --model models/default
    python bench/controlnet.py --control models/cn-edges --strengths 0,0.5,1,2 --seeds 0,1
    python bench/controlnet.py --control runs/tiny-cn --model runs/tiny --size 32 --limit 8 --steps 4
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from pixeldrift.evaluate.compose import ComposeSettings, load_prompts, overall, run_compose, score
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.control_maps import edge_mask, world_control
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.world import parse_prompt


def control_maps(kind: str, prompts: list[str], seeds: list[int], size: int) -> list[Image.Image]:
    """The ground-truth scene's map of each (prompt, seed)."""
    return [Image.fromarray(world_control(kind, parse_prompt(p), size, s)) for p, s in zip(prompts, seeds)]


def edge_f1(reference: np.ndarray, found: np.ndarray, tolerance: int = 1) -> float:
    """F1 of two edge masks, an edge pixel counting as matched within `tolerance` pixels of the other's
    (the BSDS boundary measure, Martin et al. 2004, with a square window)."""
    def near(mask):
        grown = np.zeros_like(mask)
        for dy in range(-tolerance, tolerance + 1):
            for dx in range(-tolerance, tolerance + 1):
                grown |= np.roll(np.roll(mask, dy, 0), dx, 1)
        return grown
    if not reference.any() and not found.any():
        return 1.0
    precision = (found & near(reference)).sum() / max(found.sum(), 1)
    recall = (reference & near(found)).sum() / max(reference.sum(), 1)
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def generator(model, controlnet, strength: float, args, f1s: list[float]):
    settings = GenerationRequest(prompt="-", steps=args.steps, width=args.size, height=args.size)

    def generate(prompts: list[str], seeds: list[int]):
        maps = control_maps(controlnet.kind, prompts, seeds, args.size)
        request = settings if strength == 0 else GenerationRequest(
            prompt="-", steps=args.steps, width=args.size, height=args.size,
            controls=(Control(controlnet, tuple(maps), strength),))
        images = model.sample(prompts, seeds, request)
        if controlnet.kind == "edges":
            f1s.extend(edge_f1(np.asarray(m)[:, :, 0] > 0, edge_mask(np.asarray(i))) for m, i in zip(maps, images))
        return images
    return generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--control", required=True, help="an exported ControlNet folder")
    parser.add_argument("--model", default="models/default", help="its base model folder")
    parser.add_argument("--prompts", default="heldout", help="'heldout' or a prompt file")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--strengths", default="0,1", help="comma-separated control strengths (0 = the base)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, controlnet = load_model(args.model), load_controlnet(args.control)
    controlnet.check_base(model)
    prompts = load_prompts(args.prompts)[:args.limit or None]
    settings = ComposeSettings(model=args.model, prompts=args.prompts, size=args.size,
                               seeds=tuple(int(s) for s in args.seeds.split(",")))
    rows = []
    for strength in (float(s) for s in args.strengths.split(",")):
        started, f1s = time.perf_counter(), []
        results, _ = run_compose(generator(model, controlnet, strength, args, f1s), prompts, settings)
        seconds = (time.perf_counter() - started) / len(results)
        rows.append((strength, score(results), float(np.mean(f1s)) if f1s else None, seconds))
        print(f"strength {strength:g}: overall {overall(rows[-1][1]):.1%} ({seconds:.3f} s/image)", flush=True)
    print_table(controlnet.kind, rows)


def print_table(kind: str, rows) -> None:
    categories = list(rows[0][1])
    print(f"\n{kind} ControlNet, the map from the ground-truth scene (strength 0: the base model without control)")
    print("| strength | " + " | ".join(categories) + " | overall | edge F1 | s/image |")
    print("|---:|" + "---:|" * (len(categories) + 3))
    for strength, scores, f1, seconds in rows:
        cells = " | ".join(f"{scores[c].accuracy:.1%}" for c in categories)
        edge = "-" if f1 is None else f"{f1:.3f}"
        print(f"| {strength:g} | {cells} | **{overall(scores):.1%}** | {edge} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
