"""Classifier guidance against classifier-free guidance: the verifier's accuracy against diversity.

For each prompt of one object ("a red circle"), n seeds are sampled under every setting, the same
seeds in every row:

- CFG at scale w: the conditional model, D_u + w (D_c - D_u) (w = 1: the plain conditional model);
- CG at scale s: the unconditional model (the empty prompt) steered by the classifier's gradient
  towards the prompt's colour and shape, D_u + s sigma^2 grad log p(colour, shape | x, sigma)
  (s = 0: the unconditional model itself);
- CFG w + CG s: both, the classifier on top of the guided prompt.

Measured, per prompt, then averaged over prompts:
- colour: the verifier finds exactly one object, of the prompt's colour (any shape, size, background);
- caption: the verifier accepts the whole prompt (one object of its colour and shape, nothing else);
- distinct scenes: the number of different readings among the n samples, divided by n; a reading is
  the sorted list of (shape, colour, size, column third, row third) of every object the verifier
  reads, and the background's name; an image with no plain background reads as "unreadable";
- pixel spread: the mean RMS distance between two samples of the prompt, over all pairs (8-bit units).

    nice -n 19 python bench/classifier_guidance.py --figure docs/classifier_guidance.png
    python bench/classifier_guidance.py --seeds 2 --cfg 4 --cg 10 --cg-on-cfg ""   # a quick look
"""

from __future__ import annotations

import argparse
import io
import json
import itertools
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixeldrift import world
from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.applications.classifier_guidance import open_classifier, steering, wanted_from_prompt
from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model
from pixeldrift.world.read_pixels import BACKGROUND_PALETTE, border_colour, nearest

PROMPTS = "a red circle;a blue square;a yellow star;a purple diamond"


def reading(image: Image.Image) -> tuple:
    """What the verifier reads in an image, coarse enough that two renders of one layout agree."""
    pixels = np.asarray(image, np.float32) / 255
    result = world.verify(image, world.ObjectsScene((world.ObjectGroup(),)))
    if result.problems:
        return ("unreadable",)
    background = world.BACKGROUNDS[nearest(border_colour(pixels), BACKGROUND_PALETTE)[0]]
    objects = sorted((o["shape"], o["colour"], o["size"], min(2, int(3 * o["cx"])), min(2, int(3 * o["cy"])))
                     for o in result.seen.get("objects", []))
    return (background, *objects)


def pixel_spread(images: list[Image.Image]) -> float:
    arrays = [np.asarray(image, np.float32) for image in images]
    pairs = [np.sqrt(((a - b) ** 2).mean()) for a, b in itertools.combinations(arrays, 2)]
    return float(np.mean(pairs)) if pairs else 0.0


def measure(images_by_prompt: dict[str, list[Image.Image]]) -> dict[str, float]:
    colour, caption, distinct, spread = [], [], [], []
    for prompt, images in images_by_prompt.items():
        spec = world.parse_prompt(prompt)
        only_colour = world.ObjectsScene((world.ObjectGroup(colour=spec.groups[0].colour),))
        colour += [world.verify(image, only_colour).ok for image in images]
        caption += [world.verify(image, spec).ok for image in images]
        distinct.append(len({reading(image) for image in images}) / len(images))
        spread.append(pixel_spread(images))
    return {"colour": float(np.mean(colour)), "caption": float(np.mean(caption)),
            "distinct": float(np.mean(distinct)), "spread": float(np.mean(spread))}


def sample_row(model, classifier, prompts: list[str], seeds: list[int], cfg: float, cg: float | None,
               heads: list[str], sigma_max: float | None = None) -> dict[str, list[Image.Image]]:
    """cg None: CFG alone on the prompt; cfg 0 with cg: the unconditional model under the classifier."""
    out = {}
    for prompt in prompts:
        text = prompt if cfg > 0 else ""
        request = GenerationRequest(prompt="-", guidance=cfg if cfg > 0 else 1.0)
        steer = None
        if cg is not None:
            wanted = {h: c for h, c in wanted_from_prompt(classifier, prompt).items() if h in heads}
            steer = steering(classifier, wanted, cg, len(seeds), sigma_max)
        out[prompt] = model.sample([text] * len(seeds), seeds, request, steer=steer)
    return out


def parse_rows(args) -> list[tuple[str, str, float, float | None]]:
    """(family, label, cfg scale (0: the unconditional model), classifier scale or None)."""
    rows = [("CFG", f"CFG {w:g}", w, None) for w in map(float, filter(None, args.cfg.split(",")))]
    heads = "" if args.heads == "colour,shape" else f", {args.heads} only"
    rows += [("CG" + heads, f"CG {s:g} (unconditional{heads})", 0.0, s)
             for s in map(float, filter(None, args.cg.split(",")))]
    for pair in filter(None, args.cg_on_cfg.split(",")):
        w, s = map(float, pair.split(":"))
        rows.append(("CFG+CG", f"CFG {w:g} + CG {s:g}", w, s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--classifier", type=Path, default=Path("models/classifier-lone"))
    parser.add_argument("--prompts", default=PROMPTS, help="';'-separated prompts of one object")
    parser.add_argument("--seeds", type=int, default=8, help="samples per prompt (seeds 0 .. n-1 in every row)")
    parser.add_argument("--cfg", default="1,2,4,8", help="CFG scales on the prompt, ','-separated")
    parser.add_argument("--cg", default="0,1,3,10,30", help="classifier scales on the unconditional model")
    parser.add_argument("--cg-on-cfg", default="4:3", help="CFG:CG pairs, both at once, ','-separated")
    parser.add_argument("--heads", default="colour,shape", help="the classifier's heads that guide")
    parser.add_argument("--cg-sigma-max", type=float, help="no classifier guidance above this noise level")
    parser.add_argument("--figure", type=Path, help="write the trade-off curves here (PNG)")
    parser.add_argument("--rows", type=Path, help="also write the measured rows here (JSON)")
    parser.add_argument("--merge", help="','-separated --rows files: print their rows as one table (and figure), "
                                        "sampling nothing")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.merge:
        results = [row for path in args.merge.split(",") for row in json.loads(Path(path).read_text())]
    else:
        results = measure_rows(args)
    lines = ["| setting | colour | caption | distinct scenes | pixel spread | s / image |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [table_line(row) for row in results]
    print("\n".join(lines))
    if args.rows:
        write_bytes_atomically(args.rows, json.dumps(results, indent=1).encode())
    if args.figure:
        write_figure(args.figure, results, f"{len(args.prompts.split(';'))} prompts x {args.seeds} seeds")


def table_line(row: dict) -> str:
    m = row["measured"]
    return (f"| {row['label']} | {m['colour']:.0%} | {m['caption']:.0%} | {m['distinct']:.2f} | {m['spread']:.1f} | "
            f"{row['seconds']:.2f} |")


def measure_rows(args) -> list[dict]:
    model = load_model(args.model)
    rows = parse_rows(args)
    classifier = open_classifier(args.classifier, model) if any(cg is not None for *_, cg in rows) else None
    prompts, seeds, heads = args.prompts.split(";"), list(range(args.seeds)), args.heads.split(",")
    results = []
    for family, label, cfg, cg in rows:
        started = time.perf_counter()
        m = measure(sample_row(model, classifier, prompts, seeds, cfg, cg, heads, args.cg_sigma_max))
        seconds = (time.perf_counter() - started) / (len(prompts) * len(seeds))
        results.append({"family": family, "label": label, "measured": m, "seconds": seconds})
        print(f"  {table_line(results[-1])}", flush=True)
    print(f"\n{len(prompts)} prompts x {len(seeds)} seeds, classifier {args.classifier} ({args.heads})\n")
    return results


def write_figure(path: Path, results, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, accuracy, diversity, xlabel in ((axes[0], "caption", "distinct", "distinct scenes / samples"),
                                            (axes[1], "colour", "spread", "pixel spread (mean pairwise RMS)")):
        for family, marker in (("CFG", "o-"), ("CG", "s-"), ("CG, colour only", "d--"), ("CFG+CG", "^")):
            rows = [r for r in results if r["family"] == family]
            if not rows:
                continue
            xs = [r["measured"][diversity] for r in rows]
            ys = [100 * r["measured"][accuracy] for r in rows]
            ax.plot(xs, ys, marker, label=family)
            for x, y, r in zip(xs, ys, rows):
                ax.annotate(r["label"].split(" (")[0].replace("CFG ", "w").replace("CG ", "s"), (x, y), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{accuracy} accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"classifier vs classifier-free guidance ({subtitle}; bench/classifier_guidance.py)", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_bytes_atomically(path, buffer.getvalue())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
