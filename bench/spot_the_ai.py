"""Spot the AI: train the detector on one sampler's pictures, evaluate it on samplers it never saw.

The detector (pixeldrift/classroom/detector.py) learns world renders ("real") against the
default model's DPM++ 2M pictures at 20 steps; 20% of that training set is held back to set
the threshold at a 5% false-positive rate. Then every source of classroom/spot_data.py is
scored on fresh scenes (seeds from 1,000,000): AUC against fresh renders, the share of
generated pictures flagged at that threshold (TPR), the share of fresh renders flagged (FPR)
and the accuracy on the balanced set. Pictures are cached in runs/spot/ (not in git).

    python bench/spot_the_ai.py --out models/detector-spot            # ~10 CPU minutes with a cold cache
    python bench/spot_the_ai.py --train 64 --eval 16 --steps 20 --out /tmp/d   # a smoke test
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pixeldrift.classroom.detector import DetectorConfig, auc, save_detector, scores, threshold_at, train_detector
from pixeldrift.classroom.spot_data import SOURCES, TRAIN_SOURCE, cached_pictures

EVAL_SEED = 1_000_000


def evaluate(net, threshold: float, count: int) -> list[tuple[str, float, float, float, float]]:
    """(source, AUC, TPR, FPR, balanced accuracy) for every generated source, on fresh scenes."""
    real = scores(net, cached_pictures("real", EVAL_SEED, count))
    fpr = float((real >= threshold).mean())
    rows = []
    for name in (n for n in SOURCES if n != "real"):
        generated = scores(net, cached_pictures(name, EVAL_SEED, count))
        tpr = float((generated >= threshold).mean())
        rows.append((name, auc(real, generated), tpr, fpr, (tpr + 1 - fpr) / 2))
    return rows


def table(rows) -> str:
    lines = ["| source | AUC | TPR at threshold | FPR on renders | accuracy |", "|---|---|---|---|---|"]
    for name, area, tpr, fpr, accuracy in rows:
        seen = " (trained on)" if name == TRAIN_SOURCE else ""
        lines.append(f"| {name}{seen} | {area:.3f} | {tpr:.1%} | {fpr:.1%} | {accuracy:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=200, help="pictures per class for training and threshold")
    parser.add_argument("--eval", type=int, default=50, help="fresh pictures per source for evaluation")
    parser.add_argument("--steps", type=int, default=300, help="training steps (64 pictures each)")
    parser.add_argument("--fpr", type=float, default=0.05, help="false-positive rate the threshold is set for")
    parser.add_argument("--out", required=True, help="the detector folder to write")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    real, generated = cached_pictures("real", 0, args.train), cached_pictures(TRAIN_SOURCE, 0, args.train)
    cut = int(0.8 * args.train)
    print(f"pictures ready in {time.time() - start:.0f} s", flush=True)
    start = time.time()
    net, losses = train_detector(real[:cut], generated[:cut], steps=args.steps, log=print)
    trained = time.time() - start
    threshold = threshold_at(scores(net, real[cut:]), args.fpr)
    held_back = auc(scores(net, real[cut:]), scores(net, generated[cut:]))
    rows = evaluate(net, threshold, args.eval)
    size = sum(p.numel() for p in net.parameters())
    about = {"trained_on": f"{cut} world renders vs {cut} pictures of models/default, {TRAIN_SOURCE}",
             "steps": args.steps, "train_seconds": round(trained), "parameters": size,
             "loss_first_last": [round(losses[0], 4), round(float(np.mean(losses[-20:])), 4)],
             "held_back_auc": round(held_back, 4),
             "evaluation": {name: {"auc": round(a, 4), "tpr": round(t, 4), "fpr": round(f, 4)}
                            for name, a, t, f, _ in rows}}
    save_detector(args.out, net, DetectorConfig(threshold=threshold, false_positive_rate=args.fpr), about)
    print(f"\n{size} parameters, {args.steps} steps in {trained:.0f} s; threshold {threshold:.3f} "
          f"({args.fpr:.0%} FPR on {args.train - cut} held-back renders, AUC there {held_back:.3f}); "
          f"{args.eval} fresh pictures per source\n")
    print(table(rows))


if __name__ == "__main__":
    main()
