"""Plan, then draw, beside direct generation on the compositional benchmark: one table, a row per way.

Direct: the model draws each prompt from its words. Plan-then-draw: the same prompt and
seed through pipeline/plan.py, as `pixeldrift generate --plan` runs it: the world's parser
reads the prompt, its layout sampler places the objects with the image's seed, and a
layout ControlNet draws that plan's map (plan_from_prompt, plan_control). Every image is
verified against its prompt (evaluate/compose.run_compose); one row per control strength.

    python bench/plan_then_draw.py --control models/cn-layout --model models/default --strengths 1,2
    python bench/plan_then_draw.py --limit 4 --steps 4 --seeds 0      # a smoke test
"""

from __future__ import annotations

from dataclasses import replace

from controlnet_setup import controlnet_bench_parser, controlnet_bench_setup
from pixeldrift.evaluate.compose import model_generator, overall, timed_scores
from pixeldrift.evaluate.compose_report import comparison_table
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.pipeline.plan import plan_control, plan_from_prompt


def plan_then_draw(model, controlnet, strength: float, request: GenerationRequest):
    """A benchmark generator: each (prompt, seed) planned with that seed, then drawn from its plan."""
    def generate(prompts: list[str], seeds: list[int]):
        plans = [plan_from_prompt(p, seed, request.width, controlnet.kind) for p, seed in zip(prompts, seeds)]
        drawn = replace(request, controls=(plan_control(plans, controlnet, strength),))
        return model.sample(prompts, seeds, drawn)
    return generate


def main() -> None:
    parser = controlnet_bench_parser(__doc__.split("\n")[0], control="models/cn-layout", strengths="1,2")
    args = parser.parse_args()
    model, controlnet, prompts, settings = controlnet_bench_setup(args)
    request = GenerationRequest(prompt="-", steps=args.steps, guidance=args.guidance, width=args.size,
                                height=args.size)
    ways = [("direct", model_generator(model, args.size, args.steps, args.guidance))]
    strengths = [float(s) for s in args.strengths.split(",")]
    ways += [(f"plan-then-draw, strength {s:g}", plan_then_draw(model, controlnet, s, request)) for s in strengths]
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
