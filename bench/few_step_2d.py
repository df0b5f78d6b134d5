"""Few-step models and the generative family on 2-D points: quality, diversity and speed, measured.

For each dataset (swiss roll, moons, checkerboard) this trains, with the same CPU budget
per training stage: a diffusion model (EDM), a flow-matching model (1-RF, the teacher),
its reflows (2-RF, 3-RF), 2-RF distilled to one step, consistency distillation from 1-RF
(CD), consistency training (CT, iCT's recipe), a GAN and a VAE. It prints

  (a) sliced Wasserstein to fresh data at 1, 2, 4, 8 steps, and the straightness of the
      ODE paths (path length / chord, and Liu et al.'s S);
  (b) the family table: sliced Wasserstein, modes reached, samples on the modes, CPU
      milliseconds per 1,000 samples, training steps and CPU seconds;

and writes, under --out, <data>/couplings.png (the Z^1/Z^2/Z^3 panels), <data>/few_steps.png
and family.png (the quality / diversity / speed figure). See docs/few_step_2d.md.

    nice -n 19 python bench/few_step_2d.py --out outputs/few_step_2d
    python bench/few_step_2d.py --datasets moons --budget 3        # a quick look
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pixeldrift.toy.few_step import (FewStepConfig, draw_figures, family_points, format_family_table,
                                     format_steps_table, run_few_step)

DATASETS = ("swissroll", "moons", "checkerboard")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated toy datasets")
    parser.add_argument("--budget", type=float, default=8.0, help="CPU seconds per training stage (0.5-3600)")
    parser.add_argument("--steps", type=int, default=None, help="train every stage this many steps instead")
    parser.add_argument("--samples", type=int, default=10_000, help="samples per measurement (64-100,000)")
    parser.add_argument("--pairs", type=int, default=8192, help="(noise, sample) pairs per reflow round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/few_step_2d"), help="folder for the figures")
    parser.add_argument("--no-figures", action="store_true", help="only print the tables")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    started, cpu = time.perf_counter(), time.process_time()
    panels, floors = {}, {}
    for name in args.datasets.split(","):
        config = FewStepConfig(data=name, budget_seconds=args.budget, train_steps=args.steps,
                               num_samples=args.samples, pairs=args.pairs, seed=args.seed)
        result = run_few_step(config, log=lambda line: print(line, flush=True))
        print(f"\n### {name}\n\n(a) sliced Wasserstein to {config.num_samples:,} fresh data points, by sampling "
              "steps; straightness of 1,000 ODE paths of 64 Euler steps\n")
        print(format_steps_table(result, config.step_counts))
        print(f"\n(b) the family: each model at its usual setting (diffusion and flow 32 Euler steps, the others "
              f"1 step); {len(result.grid.modes)} modes\n")
        print(format_family_table(result), flush=True)
        panels[name], floors[name] = family_points(result), result.floor
        if not args.no_figures:
            for path in draw_figures(result, args.out / name):
                print(f"wrote {path}")
    if not args.no_figures:
        from pixeldrift.toy.figures import quality_diversity_speed
        print(f"wrote {quality_diversity_speed(panels, floors, args.out / 'family.png')}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")


if __name__ == "__main__":
    main()
