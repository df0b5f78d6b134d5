"""Prompt augmentation measured: short prompts as written, rewritten in the trained words, and made explicit.

The prompts are classroom.augment.short_prompt_set(): each held-out benchmark prompt in the
held-out paraphrase words and in the short caption style (131 prompts). Each image is verified
against the prompt as the user wrote it, whatever the model was given. Prints one row per way
(accuracy per category, the mean of categories, seconds per image) and the prompts whose
result changed most.

    python bench/augment.py --model models/default --seeds 0,1,2,3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pixeldrift.classroom.augment import augment, short_prompt_set
from pixeldrift.evaluate.compose import BenchmarkPrompt, ComposeSettings, load_generator, run_compose, score
from pixeldrift.evaluate.compose_report import comparison_table
from pixeldrift.atomic_write import write_bytes_atomically

WAYS = ("as written", "phrasing", "explicit")


def rewritten(generate, way: str):
    """The model's generator, given each prompt as ``way`` rewrites it (with the image's seed)."""
    if way == "as written":
        return generate

    def generate_rewritten(prompts: list[str], seeds: list[int]):
        return generate([augment(p, s, way).prompt for p, s in zip(prompts, seeds)], seeds)
    return generate_rewritten


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ways", default=",".join(WAYS), help=f"comma-separated, of: {', '.join(WAYS)}")
    parser.add_argument("--out", type=Path, default=Path("runs/augment-bench"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prompts = [BenchmarkPrompt(category, prompt) for category, prompt in short_prompt_set()]
    settings = ComposeSettings(model=args.model, prompts="short_prompt_set",
                               seeds=tuple(int(s) for s in args.seeds.split(",")), steps=args.steps)
    generate = load_generator(args.model, settings.size, settings.steps)
    rows, by_prompt = [], {}
    ways = args.ways.split(",")
    if not set(ways) <= set(WAYS):
        parser.error(f"--ways: {args.ways!r}; accepted: {', '.join(WAYS)}")
    for way in ways:
        results, _ = run_compose(rewritten(generate, way), prompts, settings, keep_failures=0)
        scores = score(results)
        rows.append((way, scores, {"images": str(len(results))}))
        for r in results:
            by_prompt.setdefault(r.prompt, {}).setdefault(way, []).append(r.ok)
        print(f"{way}: {sum(r.ok for r in results)}/{len(results)} correct", flush=True)
    table = comparison_table("prompt given to the model", rows)
    print(f"\n{len(prompts)} prompts x {len(settings.seeds)} seeds, model {args.model}\n\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(args.out / "table.md", (table + "\n").encode())
    write_bytes_atomically(args.out / "by_prompt.json", json.dumps(by_prompt, indent=1).encode())


if __name__ == "__main__":
    main()
