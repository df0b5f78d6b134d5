"""A style the world never draws, taught by personalisation: outlined objects. The half of issue 19's
measurements that bench/personalise.py (a subject) does not cover.

    nice -n 19 python bench/personalise_style.py --out runs/pers-style          # four rows, about 25 minutes
    python bench/personalise_style.py --out runs/style-smoke --steps 4 --seeds 1 --prompt-limit 4 --heldout-limit 4

The style's images: --images world scenes of objects (the training split), rendered at 128 px, each object
hollowed out to a ring of 4 px (2 px at 64) and reduced to 64 px; captioned with the scene's own caption
and "in sks style". Every method trains on them with bench/personalise.py's settings for the same method
(DreamBooth's class images: world renders with their captions, the --class-data prior).

Columns (every generation: the model's defaults, DPM-Solver++ 2M, 20 steps, guidance 4, 64 px):
  styled      held-out object prompts + " in sks style" (--seeds each): share drawn outlined (hollowness
              >= 0.05, pixeldrift/evaluate/style_fidelity.py) / share whose content verifies once the
              outlines are filled / both
  leak        the same prompts without the identifier: share drawn outlined (the style leaking into
              every prompt, the style's "language drift")
  held-out    the compositional benchmark's held-out set (73 x 4), identifier unused, against the base
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from personalise import IDENTIFIER, METHODS, heldout_accuracy, personalised_model, row_cells, train_method
from pixeldrift import world
from pixeldrift.data import WorldStream
from pixeldrift.evaluate.compose import load_prompts
from pixeldrift.evaluate.vae_fidelity import reconstruct
from pixeldrift.evaluate.style_fidelity import judge_style, outline_objects
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.contact_sheet import contact_sheet

SUFFIX = f" in {IDENTIFIER} style"
RING = 4  # pixels of the outline at 128 px (2 at 64)


def write_style_folder(folder: Path, count: int, seed: int = 11) -> Path:
    """`count` outlined object scenes with captions "<caption> in sks style" (metadata.jsonl)."""
    if (folder / "metadata.jsonl").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    stream, lines, index = WorldStream(seed=seed, size=64), [], 0
    while len(lines) < count:
        _, caption, spec, render_seed = stream.scene(index)
        index += 1
        if spec.kind != "objects":
            continue
        large = world.render(spec, size=128, seed=render_seed)
        small = Image.fromarray(outline_objects(large, RING)).reduce(2)
        name = f"style-{len(lines):03d}.png"
        small.save(folder / name)
        lines.append(json.dumps({"file_name": name, "text": caption + SUFFIX}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def object_prompts(limit: int) -> list[str]:
    """The held-out benchmark's prompts that ask for objects (the style is an outline of objects)."""
    prompts = [p.prompt for p in load_prompts("heldout") if world.parse_prompt(p.prompt).kind == "objects"]
    return prompts[:limit or None]


@torch.no_grad()
def styled(model, prompts: list[str], seeds: int, suffix: str, sheet: Path) -> dict:
    """Shares of prompt+suffix generations outlined, verified once filled, and both."""
    jobs = [(p, s) for p in prompts for s in range(seeds)]
    images = model.sample([p + suffix for p, _ in jobs], [s for _, s in jobs],
                          GenerationRequest(prompt="-", width=64, height=64))
    contact_sheet(images[:16]).save(sheet)
    verdicts = [judge_style(image, prompt) for (prompt, _), image in zip(jobs, images)]
    share = lambda test: sum(map(test, verdicts)) / len(verdicts)  # noqa: E731
    return {"outlined": share(lambda v: v.outlined), "content": share(lambda v: v.content_ok),
            "both": share(lambda v: v.ok)}


def vae_ceiling(args, data: Path) -> tuple[int, int, int]:
    """The style's training images through the model's VAE (encoded, decoded): (outlined, content verified,
    images). What a latent model can draw of the style at best: 2 px rings are near its resolution."""
    rows = [json.loads(line) for line in (data / "metadata.jsonl").read_text().splitlines()]
    images = [np.asarray(Image.open(data / row["file_name"]).convert("RGB")) for row in rows]
    verdicts = [judge_style(image, row["text"].removesuffix(SUFFIX))
                for image, row in zip(reconstruct(load_model(args.model).vae, images), rows)]
    return sum(v.outlined for v in verdicts), sum(v.content_ok for v in verdicts), len(verdicts)


def measure(key: str, args, weight: float = 1.0) -> dict:
    folder = args.out / (key if weight == 1 else f"{key}@{weight:g}")
    if (folder / "measure.json").is_file():
        return json.loads((folder / "measure.json").read_text())
    model = personalised_model(key, args, weight).eval()
    folder.mkdir(parents=True, exist_ok=True)
    prompts = object_prompts(args.prompt_limit)
    result = {"styled": styled(model, prompts, args.seeds, SUFFIX, folder / "styled.png"),
              "leak": styled(model, prompts, args.seeds, "", folder / "plain.png")["outlined"]}
    result["heldout"] = heldout_accuracy(model, key, args)
    (folder / "measure.json").write_text(json.dumps(result) + "\n")
    return result


def table(rows: dict[str, dict]) -> str:
    lines = ["| method | styled: outlined / content / both | leak | held-out (vs base) | train CPU min (wall) "
             "| file |", "|---|---:|---:|---:|---:|---:|"]
    for key, r in rows.items():
        name, heldout, train, size = row_cells(key, r, rows["base"]["heldout"])
        s = r["styled"]
        lines.append(f"| {name} | {s['outlined']:.1%} / {s['content']:.1%} / {s['both']:.1%} | {r['leak']:.1%} | "
                     f"{heldout} | {train} | {size} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--methods", default="lora,db-world,ti", help=f"comma-separated, of: {', '.join(METHODS)}")
    parser.add_argument("--images", type=int, default=20, help="outlined training images")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-minutes", type=float, default=9.5)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per held-out object prompt")
    parser.add_argument("--prompt-limit", type=int, default=0, help="only the first N object prompts (0: all)")
    parser.add_argument("--heldout-limit", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--class-count", type=int, default=200)
    parser.add_argument("--class-seed", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    data = write_style_folder(args.out / "style", args.images)
    rows = {"base": measure("base", args)}
    print(f"base: {rows['base']}", flush=True)
    for entry in args.methods.split(","):
        key, _, weight = entry.partition("@")
        rows[entry] = {**train_method(key, args, data, init_word="style"), **measure(key, args, float(weight or 1))}
        print(f"{entry}: {rows[entry]}", flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    outlined, content, count = vae_ceiling(args, data)
    footer = (f"\nThe {count} training images through the VAE: {outlined} outlined, {content} verified once "
              "filled.")
    print("\n" + table(rows) + footer)
    (args.out / "table.md").write_text(table(rows) + footer + "\n")


if __name__ == "__main__":
    main()
