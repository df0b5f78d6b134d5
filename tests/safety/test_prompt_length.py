"""Prompts are measured before they are moderated (issue 16: 100k characters took 11-54 s in check_prompt)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import pixeldrift.safety.moderation as moderation
from pixeldrift.cli.moderate import moderate
from pixeldrift.pipeline import request
from pixeldrift.safety import MAX_PROMPT_CHARS, PromptTooLong, check_prompt, enforce_prompt

HUGE = "a red circle " * 80000   # ~1 MiB, the size that stalled the server


@pytest.fixture
def no_policy_work(monkeypatch):
    """Any word matching at all fails the test: over-long prompts must be refused before it."""
    def forbidden(*_args):
        raise AssertionError("moderation ran on an over-long prompt")
    monkeypatch.setattr(moderation, "normalise_words", forbidden)


def test_the_limit_lives_in_one_place():
    assert MAX_PROMPT_CHARS == 2000 and request.MAX_PROMPT_CHARS is MAX_PROMPT_CHARS


def test_check_prompt_refuses_overlong_input_at_once(no_policy_work):
    for check in (check_prompt, enforce_prompt):
        with pytest.raises(PromptTooLong, match=f"limited to {MAX_PROMPT_CHARS} characters; this one has"):
            check(HUGE)


def test_a_prompt_at_the_limit_is_still_moderated():
    assert check_prompt("x" * MAX_PROMPT_CHARS).allowed


def test_moderate_command_names_the_limit(no_policy_work):
    result = CliRunner().invoke(moderate, [HUGE])
    assert result.exit_code == 2 and f"limited to {MAX_PROMPT_CHARS} characters" in result.output
