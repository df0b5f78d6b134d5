"""`generate --augment`: the prompt rewritten into the training captions' long form, shown and recorded."""

from __future__ import annotations

from dataclasses import replace

import click

from pixeldrift.classroom.augment import FILLS, Augmentation, augment
from pixeldrift.world import PromptError


def augment_options(command):
    command = click.option("--augment-fill", type=click.Choice(FILLS), default="explicit", show_default=True,
                           help="With --augment: explicit chooses every attribute the prompt leaves open (drawn "
                                "with --seed, as the training data draws them); phrasing only rewords it.")(command)
    return click.option("--augment/--no-augment", default=False, show_default=True,
                        help="Rewrite a challenge-world prompt into the long form of the training captions "
                             "(counts, sizes, colours, background made explicit); the rewrite is printed and "
                             "stored in the PNG beside the original prompt.")(command)


def augmented(request, options: dict) -> tuple[object, Augmentation | None]:
    """The request with its prompt rewritten when --augment asks; the rewrite is printed."""
    if not options["augment"]:
        return request, None
    try:
        rewrite = augment(request.prompt, options["seed"], options["augment_fill"])
    except PromptError as error:
        raise click.BadParameter(f"--augment reads challenge-world prompts only: {error}", param_hint="PROMPT")
    click.echo(f"augmented prompt: {rewrite.prompt}\n  ({rewrite.describe()})")
    return replace(request, prompt=rewrite.prompt), rewrite


def label_augmented(results, rewrite: Augmentation | None) -> None:
    """Each PNG's parameters keep the user's own prompt and what the rewrite chose."""
    for result in results if rewrite else ():
        result.record.extra.update(rewrite.labels())
