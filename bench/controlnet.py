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

from dataclasses import replace

import numpy as np
from PIL import Image

from controlnet_setup import controlnet_bench_parser, controlnet_bench_setup
from pixeldrift.evaluate.compose import overall, timed_scores
from pixeldrift.evaluate.compose_report import comparison_table
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pipeline.control import Control
from pixeldrift.pipeline.control_maps import edge_mask, world_control
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
    settings = GenerationRequest(prompt="-", steps=args.steps, guidance=args.guidance, width=args.size,
                                 height=args.size)

    def generate(prompts: list[str], seeds: list[int]):
        maps = control_maps(controlnet.kind, prompts, seeds, args.size)
        request = settings if strength == 0 else replace(settings, controls=(Control(controlnet, tuple(maps),
                                                                                     strength),))
        images = model.sample(prompts, seeds, request)
        if controlnet.kind == "edges":
            f1s.extend(edge_f1(np.asarray(m)[:, :, 0] > 0, edge_mask(np.asarray(i))) for m, i in zip(maps, images))
        return images
    return generate


def main() -> None:
    parser = controlnet_bench_parser(__doc__.split("\n")[0], control=None, strengths="0,1")
    args = parser.parse_args()
    model, controlnet, prompts, settings = controlnet_bench_setup(args)
    rows = []
    for strength in (float(s) for s in args.strengths.split(",")):
        f1s = []
        scores, seconds = timed_scores(generator(model, controlnet, strength, args, f1s), prompts, settings)
        rows.append((f"{strength:g}", scores, {"edge F1": f"{np.mean(f1s):.3f}" if f1s else "-",
                                                "s/image": f"{seconds:.3f}"}))
        print(f"strength {strength:g}: overall {overall(scores):.1%} ({seconds:.3f} s/image)", flush=True)
    print(f"\n{controlnet.kind} ControlNet, the map from the ground-truth scene (strength 0: the base model "
          "without control)")
    print(comparison_table("strength", rows))


if __name__ == "__main__":
    main()
