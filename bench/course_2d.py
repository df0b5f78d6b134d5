"""The 2-D tasks of the KAIST CS492(D) diffusion course, on 3 seeds, at the course's own setup and budget.

Each seed trains one eps (DDPM) model and one flow-matching model (5,000 steps x 128
points), grades every task by the Chamfer distance of 2,048 samples against 2,048
data points (target: below 20), and runs the class-conditional guidance task on an
8-class Gaussian mixture. The setup, and where it comes from, is in
pixeldrift/toy/course.py. Seconds per task = training of its model + its sampling.

    python bench/course_2d.py                 # 3 seeds, everything
    python bench/course_2d.py --seeds 0 --no-guidance
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pixeldrift.toy.course import COURSE_TARGET, COURSE_TASKS, GUIDANCE_RUN, score_course, score_guidance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--objectives", default="eps,flow", help="which models to train: eps, flow")
    parser.add_argument("--no-guidance", action="store_true", help="skip the class-conditional task")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    scores = []
    for seed in seeds:
        for objective in args.objectives.split(","):
            print(f"seed {seed}: training the {objective} model ...", flush=True)
            scores += score_course(seed, objective, log=lambda line: print(line, flush=True))
    print()
    print(f"Chamfer distance, {len(seeds)} seeds (target < {COURSE_TARGET:g}); seconds = training its model + "
          "sampling, wall clock (CPU time in brackets)")
    print("| task | sampler | steps | sigmas | Chamfer mean | per seed | pass | seconds per task |")
    print("|---|---|---:|---|---:|---|---|---:|")
    for task in COURSE_TASKS:
        mine = [s for s in scores if s.task is task]
        if not mine:
            print(f"| {task.name} | {task.run.sampler} | {task.run.steps} | {task.run.sigmas} | - | not run "
                  "(sampler missing or objective skipped) | | |")
            continue
        values = [s.chamfer for s in mine]
        wall = statistics.mean(s.train_seconds + s.sample_seconds for s in mine)
        cpu = statistics.mean(s.train_cpu_seconds + s.sample_cpu_seconds for s in mine)
        failed = sum(v >= COURSE_TARGET for v in values)
        verdict = "yes" if not failed else f"no ({failed} of {len(values)} fail)"
        print(f"| {task.name} | {task.run.sampler} | {task.run.steps} | {task.run.sigmas} | "
              f"{statistics.mean(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} | {verdict} | "
              f"{wall:.0f} ({cpu:.0f}) |")
    if not args.no_guidance:
        print()
        print(f"Classifier-free guidance: 8-class Gaussian mixture, eps model at the course's budget, "
              f"{GUIDANCE_RUN.sampler} {GUIDANCE_RUN.steps} steps; 'in class' = nearest data point has the "
              "class asked for")
        rows = {}
        for seed in seeds:
            results, train_seconds, sample_seconds = score_guidance(seed)
            print(f"seed {seed}: trained in {train_seconds:.0f} s, sampled 4 scales in {sample_seconds:.0f} s",
                  flush=True)
            for r in results:
                rows.setdefault(r.scale, []).append(r)
        print("| guidance | in class (mean) | per seed | Chamfer (mean) |")
        print("|---:|---:|---|---:|")
        for scale, results in rows.items():
            accuracy = [100 * r.class_accuracy for r in results]
            print(f"| {scale:g} | {statistics.mean(accuracy):.1f}% | {', '.join(f'{a:.1f}' for a in accuracy)} | "
                  f"{statistics.mean(r.chamfer for r in results):.2f} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
