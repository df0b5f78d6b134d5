"""`pixeldrift moderate`: check a prompt against the prompt policy without generating."""

from __future__ import annotations

import click

from pixeldrift.safety.moderation import PolicyFormatError, PromptTooLong, check_prompt, check_prompt_length, load_policy


@click.command()
@click.argument("prompt")
@click.option("--policy", "policy_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Extra policy file (same format as the shipped policy.txt); repeatable.")
def moderate(prompt: str, policy_files: tuple[str, ...]) -> None:
    """Say whether PROMPT is allowed by the prompt policy, and which category refuses it.

    \b
    Exit status: 0 allowed, 1 refused, 2 bad input (e.g. an unreadable policy file).

    \b
    Examples:
      pixeldrift moderate "a red circle left of a blue square"
      pixeldrift moderate "..." --policy my_policy.txt
    """
    try:
        check_prompt_length(prompt)  # before the policy files are even read
        verdict = check_prompt(prompt, load_policy(tuple(policy_files)))
    except (PolicyFormatError, PromptTooLong) as error:
        raise click.UsageError(str(error)) from None
    click.echo(verdict.message)
    if not verdict.allowed:
        raise SystemExit(1)
