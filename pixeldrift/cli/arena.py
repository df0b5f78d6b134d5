"""`pixeldrift arena`: the automatic arena, with the world's verifier as the judge; and a studio's human votes."""

from __future__ import annotations

from pathlib import Path

import click

from pixeldrift.cli.bench import _seed_list
from pixeldrift.world import IMAGE_SIZES

DEFAULT_CONTENDERS = ("name=default", "name=euler 4 steps,sampler=euler,steps=4", "name=no guidance,guidance=1",
                      "name=plan-then-draw,plan=models/cn-layout")


@click.command("arena")
@click.option("--contender", "--contenders", "contenders", multiple=True,
              help="A contender as key=value fields: name (required), model (a folder; default: the embedded "
                   "model), sampler, steps, guidance, lora (a LoRA file), lora_scale, plan (a layout ControlNet "
                   "folder: plan-then-draw). Repeat for each [default: " + "; ".join(DEFAULT_CONTENDERS) + "].")
@click.option("--prompts", default="heldout", show_default=True,
              help="'heldout' (the world's held-out prompt set) or a text file with one prompt per line.")
@click.option("--seeds", default="0", show_default=True, callback=_seed_list,
              help="Comma-separated seeds; every contender draws every prompt once per seed.")
@click.option("--limit", type=click.IntRange(0, 10_000), default=0, help="Only the first N prompts (0: all).")
@click.option("--size", type=click.Choice([str(s) for s in IMAGE_SIZES]), default="64", show_default=True,
              help="Image side in pixels.")
@click.option("--bootstrap", type=click.IntRange(1, 2000), default=200, show_default=True,
              help="Bootstrap rounds for the 95% intervals.")
@click.option("--votes", "votes_db", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A studio's arena.sqlite (in its gallery folder): also show the people's leaderboard and how "
                   "often they agreed with the verifier on the same pairs.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Torch CPU threads [torch's default].")
def arena(contenders: tuple[str, ...], prompts: str, seeds: tuple[int, ...], limit: int, size: str, bootstrap: int,
          votes_db: Path | None, threads: int | None) -> None:
    """An arena leaderboard judged by the world's verifier, before anyone votes.

    Every contender draws every prompt once per seed; for each prompt and seed each two
    contenders meet once: a picture the verifier passes beats one it fails, two passes or
    two fails tie. The votes are fitted with Bradley-Terry on an Elo-like scale (mean
    1000, 400 points = 10:1 odds), with bootstrap 95% intervals.

    \b
    Examples:
      pixeldrift arena --seeds 0,1
      pixeldrift arena --contender name=dpm,steps=20 --contender name=euler4,sampler=euler,steps=4 --limit 12
      pixeldrift arena --votes outputs/gallery/arena.sqlite
    """
    import torch

    from pixeldrift.classroom.arena import automatic_arena
    from pixeldrift.classroom.bradley_terry import leaderboard_table
    from pixeldrift.classroom.contenders import open_contender, parse_contender, unique_names
    from pixeldrift.evaluate.compose import ComposeSettings, load_prompts

    if threads:
        torch.set_num_threads(threads)
    try:
        chosen = unique_names([parse_contender(text) for text in contenders or DEFAULT_CONTENDERS])
        if len(chosen) < 2:
            raise ValueError("an arena needs at least two contenders")
        settings = ComposeSettings(model="arena", prompts=prompts, size=int(size), seeds=seeds)
        prompt_set = load_prompts(prompts)[:limit or None]
        generators = {c.name: open_contender(c, settings.size) for c in chosen}
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    progress = lambda name, rows: click.echo(f"{name}: {sum(r.ok for r in rows)}/{len(rows)} verified", err=True)
    report = automatic_arena(generators, prompt_set, settings, bootstrap, progress)
    click.echo(f"verifier as judge: {len(prompt_set)} prompts x {len(seeds)} seeds, {len(report.votes)} votes")
    click.echo(leaderboard_table(report.standings))
    if votes_db is not None:
        click.echo("\n" + human_report(votes_db, bootstrap))


def human_report(path: Path, rounds: int) -> str:
    """The people's leaderboard from a studio's arena file and their agreement with the verifier."""
    from pixeldrift.classroom.arena_store import ArenaStore, agreement
    from pixeldrift.classroom.bradley_terry import Votes, leaderboard, leaderboard_table

    store = ArenaStore(path)
    try:
        voted = store.human_votes()
    finally:
        store.close()
    if not voted:
        return f"{path}: no votes yet"
    names = sorted({n for pair, _ in voted for n in (pair.left_name, pair.right_name)})
    if len(names) < 2:
        return f"{path}: {len(voted)} votes, all between fewer than two contenders"
    votes = Votes.from_choices(names, [(p.left_name, p.right_name, choice) for p, choice in voted])
    agreed = agreement(voted)
    lines = [f"people as judge: {len(voted)} votes", leaderboard_table(leaderboard(votes, rounds))]
    if agreed.pairs:
        lines.append(f"people and verifier agree on {agreed.agree}/{agreed.pairs} pairs both judged "
                     f"({agreed.rate:.0%}); on {agreed.decisive_agree}/{agreed.decisive_pairs} where the verifier "
                     "passed one picture and failed the other")
    else:
        lines.append("no voted pair was judged by the verifier (its prompts were not world scenes)")
    return "\n".join(lines)
