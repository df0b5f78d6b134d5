"""The Python API measures prompts before moderating them (issue 16, item 4)."""

from __future__ import annotations

import pytest

import pixeldrift.safety.moderation as moderation
from pixeldrift.pipeline import GenerationRequest
from pixeldrift.safety import PromptTooLong

HUGE = "a red circle " * 80000


@pytest.fixture
def no_policy_work(monkeypatch):
    def forbidden(*_args):
        raise AssertionError("moderation ran on an over-long prompt")
    monkeypatch.setattr(moderation, "normalise_words", forbidden)


def test_generate_refuses_a_huge_prompt_before_moderation(tiny_model, no_policy_work):
    with pytest.raises(ValueError, match="limited to 2000 characters"):
        tiny_model.generate(GenerationRequest(prompt=HUGE, steps=1))


def test_sample_refuses_a_huge_prompt_before_moderation(tiny_model, no_policy_work):
    with pytest.raises(PromptTooLong, match="limited to 2000 characters"):
        tiny_model.sample([HUGE], [0], GenerationRequest(prompt="x", steps=1))
