"""Attend-and-Excite at sampling time, measured on the compositional benchmark: does it fix neglect and binding?

A training-free fix from issue 14's study: the same model, prompts and seeds, sampled
plainly (scale 0) and with the neglect loss's guidance at each scale. Prints one
table row per scale (held-out categories, overall, seconds per image).

    python bench/attend_excite.py --model models/default --scales 0,1,3,10
    python bench/attend_excite.py --prompts bench/prompts/group_relations.txt --seeds 0,1,2,3
"""

from __future__ import annotations

import argparse

import torch

from pixeldrift.evaluate.compose import ComposeSettings, load_prompts, overall, timed_scores
from pixeldrift.evaluate.compose_report import comparison_table
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.attend_and_excite import steering


def generator(model, scale: float, sigma_min: float, steps: int):
    settings = GenerationRequest(prompt="-", steps=steps, width=64, height=64, excite=0.0)

    def generate(prompts: list[str], seeds: list[int]):
        return model.sample(prompts, seeds, settings, steer=steering(model, prompts, scale, sigma_min))
    return generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--prompts", default="heldout", help="'heldout' or a prompt file")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--scales", default="0,1,3,10", help="comma-separated guidance scales (0 = plain)")
    parser.add_argument("--sigma-min", type=float, default=1.0, help="guide only while sigma >= this")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    prompts = load_prompts(args.prompts)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    settings = ComposeSettings(model=args.model, prompts=args.prompts, seeds=seeds)
    rows = []
    for scale in (float(s) for s in args.scales.split(",")):
        scores, seconds = timed_scores(generator(model, scale, args.sigma_min, args.steps), prompts, settings)
        rows.append((f"{scale:g}", scores, {"s/image": f"{seconds:.3f}"}))
        print(f"scale {scale:g}: overall {overall(scores):.1%} ({seconds:.3f} s/image)", flush=True)
    print("\n" + comparison_table("scale", rows))


if __name__ == "__main__":
    main()
