"""Plan, then draw, beside direct generation on the compositional benchmark: one table, a row per way.

Direct: the model draws each prompt from its words. Plan-then-draw: the same prompt and
seed through pipeline/plan.py, as `pixeldrift generate --plan` runs it: the world's parser
reads the prompt, its layout sampler places the objects with the image's seed, and a
layout ControlNet draws that plan's map (plan_from_prompt, plan_control); with several ControlNets
(--control A,B) each draws the same plan as its own kind of map, their residuals summed. Every image
is verified against its prompt (evaluate/compose.run_compose); one row per control strength.

    python bench/plan_then_draw.py --control models/cn-layout --model models/default --strengths 1,2
    python bench/plan_then_draw.py --control models/cn-layout,models/cn-edges --strengths 2+1,1+1
    python bench/plan_then_draw.py --limit 4 --steps 4 --seeds 0      # a smoke test
"""

from __future__ import annotations

from dataclasses import replace

from controlnet_setup import controlnet_bench_parser, controlnet_bench_setup
from pixeldrift.evaluate.compose import model_generator, overall, timed_scores
from pixeldrift.evaluate.compose_report import comparison_table
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pipeline.plan import plan_control, plan_from_prompt


def plan_then_draw(model, controlnets, strengths: list[float], request: GenerationRequest):
    """A benchmark generator: each (prompt, seed) planned with that seed, then drawn from its plan by every
    ControlNet at once, each reading its own kind of map (as `generate --plan --control A --control B`)."""
    def generate(prompts: list[str], seeds: list[int]):
        plans = [plan_from_prompt(p, seed, request.width, controlnets[0].kind) for p, seed in zip(prompts, seeds)]
        controls = tuple(plan_control(plans, net, strength) for net, strength in zip(controlnets, strengths))
        return model.sample(prompts, seeds, replace(request, controls=controls))
    return generate


def strength_rows(text: str, count: int) -> list[list[float]]:
    """'1,2' -> [[1], [2]] for one ControlNet; '2+1,1+1' -> [[2, 1], [1, 1]] for two (one per ControlNet)."""
    rows = [[float(s) for s in row.split("+")] for row in text.split(",")]
    if any(len(row) != count for row in rows):
        raise SystemExit(f"--strengths: each row needs {count} strength(s) joined by '+', one per ControlNet")
    return rows


def main() -> None:
    parser = controlnet_bench_parser(__doc__.split("\n")[0], control="models/cn-layout", strengths="1,2")
    args = parser.parse_args()
    model, controlnets, prompts, settings = controlnet_bench_setup(args, several=True)
    request = GenerationRequest(prompt="-", steps=args.steps, guidance=args.guidance, width=args.size,
                                height=args.size)
    ways = [("direct", model_generator(model, args.size, args.steps, args.guidance))]
    for row in strength_rows(args.strengths, len(controlnets)):
        named = " + ".join(f"{net.kind} {s:g}" for net, s in zip(controlnets, row))
        ways.append((f"plan-then-draw, {named}", plan_then_draw(model, controlnets, row, request)))
    rows = []
    for name, generate in ways:
        scores, seconds = timed_scores(generate, prompts, settings)
        rows.append((name, scores, {"s/image": f"{seconds:.3f}"}))
        print(f"{name}: overall {overall(scores):.1%} ({seconds:.3f} s/image)", flush=True)
    print(f"\n{len(prompts)} prompts x {len(settings.seeds)} seeds, {args.steps} steps, guidance {args.guidance:g}, "
          f"{args.size} px; plans drawn with {args.control}")
    print(comparison_table("generation", rows))


if __name__ == "__main__":
    main()
