"""A compute-controlled study of training recipes for the default model: which change helps most per image seen.

Every variant trains on from the same model folder (`--init`) for the same number of
images (steps x batch), on the same fresh scenes (seed 2), with two torchrun processes
of one thread each, then is scored with the same benchmark: the held-out split
(4 seeds) and the in-distribution prompts (seed 0). The held-out accuracy on 60
prompts is also recorded during training (`--eval-every`), for the learning curves.

    python bench/model_study.py --images 128000 --out runs/study            # all variants, then the table
    python bench/model_study.py --images 128000 --out runs/study --only baseline,compositional
    python bench/model_study.py --out runs/study --table-only               # table and curves from finished runs

Writes OUT/NAME/ (the run, its eval.csv and exported model), OUT/study.md and OUT/learning_curves.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# name -> (what changes, extra training options, batch size, peak learning rate)
VARIANTS = {
    "baseline": ("the current recipe, trained on", [], 64, 3e-4),
    "compositional": ("scene mix: more counts, relations, colour pairs", ["--scene-mix", "compositional"], 64, 3e-4),
    "lr-1e-3": ("peak learning rate 1e-3 instead of 3e-4", [], 64, 1e-3),
    "batch-128": ("batch 128 (half the steps), peak learning rate 6e-4", [], 128, 6e-4),
}


def train(name: str, init: str, images: int, out: Path) -> float:
    """Runs one variant under torchrun; returns the wall-clock minutes it took."""
    _, extra, batch, lr = VARIANTS[name]
    steps = images // batch
    command = ["torchrun", "--nproc_per_node=2", "-m", "pixeldrift.cli.main", "train", "t2i", "--init", init,
               "--seed", "2", "--steps", str(steps), "--batch-size", str(batch), "--lr", str(lr),
               "--warmup", str(max(1, steps // 20)), "--ema", "0.999", "--checkpoint-every", str(steps // 4),
               "--eval-every", str(steps // 4), "--out", str(out / name), "--export", str(out / name / "model"),
               *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    return (time.perf_counter() - started) / 60


def score(model: Path, prompts: str, seeds: str, out: Path) -> dict:
    pixeldrift = str(Path(sys.executable).with_name("pixeldrift"))
    subprocess.run([pixeldrift, "bench", "compose", "--model", str(model), "--prompts", prompts, "--seeds", seeds,
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "report.json").read_text())


def summary(report: dict) -> dict[str, float]:
    """Category -> accuracy, plus 'overall', from a compose report.json."""
    accuracy = {name: row["accuracy"] for name, row in report["categories"].items()}
    return {**accuracy, "overall": report["overall"]}


def table(out: Path, base: Path, images: int) -> str:
    rows = [("start (" + str(base) + ")", base)] + [(n, out / n / "model") for n in VARIANTS
                                                      if (out / n / "model").is_dir()]
    columns = ["overall", "counting", "position", "colour attribution", "clock time", "quantity", "text"]
    lines = [f"Each variant trained on {images:,} images from {base} (`python bench/model_study.py`).", "",
             "| variant | what changes | minutes | " + " | ".join(columns) + " | in-distribution |",
             "|---|---|---:|" + "---:|" * (len(columns) + 1)]
    for name, model in rows:
        held = summary(json.loads((out / "scores" / f"{name.split()[0]}-heldout" / "report.json").read_text()))
        inside = summary(json.loads((out / "scores" / f"{name.split()[0]}-indist" / "report.json").read_text()))
        minutes = (out / name / "minutes.txt").read_text().strip() if (out / name / "minutes.txt").exists() else ""
        what = VARIANTS[name][0] if name in VARIANTS else "no further training"
        cells = " | ".join(f"{100 * held.get(c, float('nan')):.1f}%" for c in columns)
        lines.append(f"| {name} | {what} | {minutes} | {cells} | {100 * inside['overall']:.1f}% |")
    return "\n".join(lines) + "\n"


def eval_hook_accuracy(report: dict, prompts: int = 60) -> float:
    """What the training eval (train/evaluation.py) measures: the first 60 held-out prompts, seed 0,
    mean of the category accuracies; here read from a full report, for the start model."""
    from pixeldrift.evaluate.compose import load_prompts
    first = {p.prompt for p in load_prompts("heldout")[:prompts]}
    by_category: dict[str, list[bool]] = {}
    for sample in report["samples"]:
        if sample["seed"] == 0 and sample["prompt"] in first:
            by_category.setdefault(sample["category"], []).append(sample["ok"])
    return sum(sum(oks) / len(oks) for oks in by_category.values()) / len(by_category)


def learning_curves(out: Path, start_accuracy: float, images: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 4))
    for name in VARIANTS:
        path = out / name / "eval.csv"
        if not path.exists():
            continue
        batch = VARIANTS[name][2]
        rows = list(csv.DictReader(path.open()))
        x = [0] + [int(r["step"]) * batch for r in rows]
        y = [start_accuracy] + [100 * float(r["heldout_accuracy"]) for r in rows]
        axes.plot(x, y, marker="o", label=name)
    axes.set_xlabel("images seen since the start (compute)")
    axes.set_ylabel("held-out accuracy, 60 prompts, seed 0 (%)")
    axes.set_title(f"Recipes at equal compute ({images:,} images each)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out / "learning_curves.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--init", default="models/default", help="The model folder every variant starts from.")
    parser.add_argument("--images", type=int, default=128_000, help="Images each variant trains on.")
    parser.add_argument("--out", type=Path, default=Path("runs/study"))
    parser.add_argument("--only", default=",".join(VARIANTS), help="Comma-separated variants to run.")
    parser.add_argument("--table-only", action="store_true", help="Only score finished runs and write the table.")
    args = parser.parse_args()
    scores = args.out / "scores"
    todo = [n for n in args.only.split(",") if n]
    unknown = [n for n in todo if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    for name in [] if args.table_only else todo:
        if not (args.out / name / "model").is_dir():
            minutes = train(name, args.init, args.images, args.out)
            (args.out / name / "minutes.txt").write_text(f"{minutes:.1f}\n")
    for name, model in [("start", Path(args.init))] + [(n, args.out / n / "model") for n in VARIANTS]:
        if model.is_dir() and not (scores / f"{name}-heldout" / "report.json").exists():
            score(model, "heldout", "0,1,2,3", scores / f"{name}-heldout")
            score(model, "bench/prompts/in_distribution.txt", "0", scores / f"{name}-indist")
    text = table(args.out, Path(args.init), args.images)
    (args.out / "study.md").write_text(text)
    start = eval_hook_accuracy(json.loads((scores / "start-heldout" / "report.json").read_text()))
    learning_curves(args.out, 100 * start, args.images)
    print(text)


if __name__ == "__main__":
    main()
