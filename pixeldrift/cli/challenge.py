"""`pixeldrift challenge`: break the model with the lectures' six challenges, judged by the world's verifier."""

from __future__ import annotations

import click

DEFAULT_PLAN_CONTROL = "models/cn-layout"


@click.command("challenge")
@click.option("--model", "models", multiple=True,
              help="A model folder, 'default' (the embedded model) or 'groundtruth' (the world's renderer, the "
                   "ceiling); repeat for a table across models [default: default].")
@click.option("--plan", is_flag=True,
              help="Also draw each model with plan-then-draw (a layout ControlNet draws the prompt's plan).")
@click.option("--control", default=DEFAULT_PLAN_CONTROL, show_default=True,
              help="The layout ControlNet folder --plan draws with.")
@click.option("--seeds", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Pictures per prompt (seeds 0 to N-1).")
@click.option("--only", default=None, help="Comma-separated challenge keys [all]: counting, spatial, quantity, time, "
                                           "text, hands.")
@click.option("--steps", type=click.IntRange(1, 1000), default=None, help="Sampling steps [model default].")
@click.option("--quiet", is_flag=True, help="Only the table, not a line per picture.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Torch CPU threads [torch's default].")
def challenge(models: tuple[str, ...], plan: bool, control: str, seeds: int, only: str | None, steps: int | None,
              quiet: bool, threads: int | None) -> None:
    """Break the model: counting, spatial, quantity, analog time, long text and hands.

    Each challenge asks for what image models famously get wrong, in the nearest form the
    world's verifier reads exactly (the limit is printed where the world differs from the
    lecture), draws each prompt with N seeds and prints every picture's pass or fail with
    the failure named, then a table across the models (and plan-then-draw with --plan).

    \b
    Examples:
      pixeldrift challenge --seeds 4
      pixeldrift challenge --model default --plan --seeds 8 --quiet
      pixeldrift challenge --model groundtruth --only counting,time
    """
    import torch

    from pixeldrift.classroom.challenges import CHALLENGES, challenge as find, challenge_table, run_challenge
    from pixeldrift.classroom.contenders import Contender, open_contender
    from pixeldrift.evaluate.compose import groundtruth_generator

    if threads:
        torch.set_num_threads(threads)
    try:
        chosen = [find(key.strip()) for key in only.split(",")] if only else list(CHALLENGES)
        ways = {}
        for model in models or ("default",):
            if model == "groundtruth":
                ways[model] = groundtruth_generator(64)
                continue
            ways[model] = open_contender(Contender("model", model=model, steps=steps), 64)
            if plan:
                ways[f"{model} + plan"] = open_contender(Contender("plan", model=model, plan=control, steps=steps), 64)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    results = {}
    for name, generate in ways.items():
        results[name] = {}
        for item in chosen:
            attempts = run_challenge(generate, item, range(seeds))
            results[name][item.key] = attempts
            if not quiet:
                _show(name, item, attempts)
    click.echo(f"\n{seeds} seeds a prompt, 64 px; passed / drawn, judged by the world's verifier")
    click.echo(challenge_table(results))
    for item in chosen:
        click.echo(f"- {item.title}: {item.limit}")


def _show(way: str, item, attempts) -> None:
    click.echo(f"\n[{way}] {item.title}: the lecture asks for {item.lecture!r}")
    if not attempts:
        click.echo(f"  {item.limit}")
    for a in attempts:
        click.echo(f"  seed {a.seed}  {'PASS' if a.ok else 'FAIL'}  {a.prompt}" + (f"  -- {a.reason}" if a.reason else ""))
