"""Few-step models beside their teacher on the held-out benchmark: accuracy and speed per number of steps.

The teacher (the default model: DPM-Solver++ 2M, guidance 4, two network evaluations per step) at
20 steps is the reference; the same teacher at 1, 2, 4 steps shows what cutting its steps costs;
each few-step model (e.g. `pixeldrift train reflow`'s) runs at 1, 2, 4 steps with its own folder's
sampling defaults (Euler in equal flow-time steps, guidance 1: one evaluation per step). Every
image is verified against its prompt (evaluate/compose.run_compose). Speed is generation alone
(no verifier): 32 held-out prompts in one batch, the fastest of 3 runs, images per second, and
the speed-up over the teacher's 20 steps. Writes the method x steps grid (like the lectures'
DDIM-steps figure) with --grid.

    python bench/few_step.py --students models/fast --grid docs/few_step.png
    python bench/few_step.py --students models/fast,models/one-step --steps 1,2,4 --threads 1
    python bench/few_step.py --students models/fast --limit 4 --seeds 0 --steps 1      # a smoke test
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from pixeldrift.evaluate.compose import ComposeSettings, load_prompts, model_generator, overall, timed_scores
from pixeldrift.evaluate.compose_report import comparison_table
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.contact_sheet import labelled_sheet

GRID_PROMPTS = ("three red circles above a blue square", "a clock showing 4:30", "two green triangles")


def images_per_second(model, prompts: list[str], request: GenerationRequest, repeats: int = 3) -> float:
    """Generation alone, one batch of `prompts`, the fastest of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.sample(prompts, list(range(len(prompts))), request)
        best = min(best, time.perf_counter() - started)
    return len(prompts) / best


def method_rows(args) -> list[tuple[str, object, int, float | None]]:
    """(name, model, steps, guidance) per row: the teacher at its steps, then each student at each step count."""
    teacher = load_model(args.teacher)
    rows = [(f"teacher, {args.teacher_steps} steps", teacher, args.teacher_steps, None)]
    steps = [int(s) for s in args.steps.split(",")]
    rows += [(f"teacher, {n} step{'s' * (n > 1)}", teacher, n, None) for n in steps if args.teacher_too]
    for folder in filter(None, args.students.split(",")):
        student = load_model(folder)
        rows += [(f"{folder}, {n} step{'s' * (n > 1)}", student, n, None) for n in steps]
    return rows


def grid(rows, size: int) -> "PIL.Image.Image":  # noqa: F821
    """One column per row of the table, one row per grid prompt, seed 0."""
    images = []
    for prompt in GRID_PROMPTS:
        for name, model, steps, guidance in rows:
            request = GenerationRequest(prompt="-", steps=steps, guidance=guidance, width=size, height=size)
            images += model.sample([prompt], [0], request)
    titles = [f"{name.split(',')[0].split('/')[-1]} {steps}" for name, _, steps, _ in rows]
    return labelled_sheet(images, len(rows), titles, list(GRID_PROMPTS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", default="models/default")
    parser.add_argument("--teacher-steps", type=int, default=20)
    parser.add_argument("--no-teacher-steps", dest="teacher_too", action="store_false",
                        help="leave out the teacher at the students' step counts")
    parser.add_argument("--students", default="models/fast", help="few-step model folders, comma-separated")
    parser.add_argument("--steps", default="1,2,4")
    parser.add_argument("--prompts", default="heldout")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid", help="write the method x steps grid here (PNG)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prompts = load_prompts(args.prompts)[:args.limit or None]
    speed_prompts = [p.prompt for p in load_prompts("heldout")][:32]
    base = ComposeSettings(model=args.teacher, prompts=args.prompts, size=args.size,
                           seeds=tuple(int(s) for s in args.seeds.split(",")))
    rows, table, reference = method_rows(args), [], None
    for name, model, steps, guidance in rows:
        settings = replace(base, steps=steps, guidance=guidance)
        scores, _ = timed_scores(model_generator(model, args.size, steps, guidance), prompts, settings)
        request = GenerationRequest(prompt="-", steps=steps, guidance=guidance, width=args.size, height=args.size)
        rate = images_per_second(model, speed_prompts, request)
        reference = reference or rate
        defaults = request.validated(model.sampling_defaults, model.limits)
        table.append((name, scores, {"sampler": f"{defaults.sampler}/{defaults.schedule}",
                                     "guidance": f"{defaults.guidance:g}", "images/s": f"{rate:.1f}",
                                     "speed-up": f"{rate / reference:.1f}x"}))
        print(f"{name}: overall {overall(scores):.1%}, {rate:.1f} images/s", flush=True)
    print(f"\n{len(prompts)} prompts x {len(base.seeds)} seeds, {args.size} px, {args.threads} thread(s)\n")
    print(comparison_table("model, steps", table))
    if args.grid:
        grid(rows, args.size).save(args.grid)
        print(f"\nwrote {args.grid}")


if __name__ == "__main__":
    main()
