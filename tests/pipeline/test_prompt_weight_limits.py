"""Prompt weights stay finite and bounded (issue 16: 1980 unclosed '(' made a weight of inf)."""

from __future__ import annotations

import math

import pytest

from pixeldrift.pipeline.prompt_weights import MAX_DEPTH, MAX_WEIGHT, PromptWeightError, parse_weighted_prompt


def test_thousands_of_unclosed_brackets_are_refused_by_name():
    with pytest.raises(PromptWeightError, match=r"nested or unclosed '\(' brackets"):
        parse_weighted_prompt("(" * 1980 + "a red star")


def test_deep_square_brackets_are_refused_too():
    with pytest.raises(PromptWeightError, match=r"'\['"):
        parse_weighted_prompt("[" * (MAX_DEPTH + 1) + "x" + "]" * (MAX_DEPTH + 1))


def test_nesting_up_to_the_limit_is_emphasis():
    chunks = parse_weighted_prompt("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)
    assert chunks == [[("x", pytest.approx(1.1 ** MAX_DEPTH))]]


def test_nested_weights_may_not_multiply_past_the_maximum():
    assert parse_weighted_prompt("(((x:8)))")[0][0][1] == pytest.approx(9.68)
    with pytest.raises(PromptWeightError, match="multiply to 10.9"):
        parse_weighted_prompt("(((x:9)))")


def test_every_accepted_weight_is_finite_and_bounded():
    text = "(" * MAX_DEPTH + "a (b:10) [c] " + ")" * 5
    try:
        chunks = parse_weighted_prompt(text)
    except PromptWeightError:
        return
    assert all(math.isfinite(w) and 0 <= w <= MAX_WEIGHT for chunk in chunks for _, w in chunk)
