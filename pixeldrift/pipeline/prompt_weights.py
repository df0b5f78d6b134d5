"""Attention weights in prompts, in the syntax the AUTOMATIC1111 web UI made common.

    (word)        weight x 1.1        ((word)) x 1.21, and so on
    [word]        weight / 1.1
    (word:1.3)    weight x 1.3 (any number from 0 to MAX_WEIGHT)
    \\( \\) \\[ \\]   literal brackets
    BREAK         starts a new chunk, encoded separately and joined after

An unclosed bracket weights the rest of its chunk; a stray closing bracket is
kept as text. Brackets nest at most MAX_DEPTH deep and the weights they multiply
to stay within MAX_WEIGHT; beyond, a PromptWeightError names the syntax (1980
unclosed brackets once made a weight of 1.1**1980 = inf). The weights multiply the text encoder's output per token, and each
prompt's encoding is then rescaled to its unweighted mean, so weights shift
emphasis without changing the overall magnitude the denoiser was trained on.
"""

from __future__ import annotations

import math
import re

import torch

BRACKET_FACTOR = 1.1
MAX_WEIGHT = 10.0
MAX_DEPTH = 20     # 1.1**20 = 6.7: deeper nesting is a typo or an attack, not emphasis

Segment = tuple[str, float]

_TOKEN = re.compile(r"\\[()\[\]\\]|\(|\[|:\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*\)|\)|\]|[^\\()\[\]:]+|[\\:]")
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


class PromptWeightError(ValueError):
    """Prompt weight syntax we refuse; the message names the syntax and the limit."""


def parse_weighted_prompt(text: str) -> list[list[Segment]]:
    """Chunks (split at BREAK) of (text, weight) segments; adjacent equal weights are merged."""
    return [_parse_chunk(chunk) for chunk in _BREAK.split(text)]


def has_weights(chunks: list[list[Segment]]) -> bool:
    return len(chunks) > 1 or any(weight != 1.0 for chunk in chunks for _, weight in chunk)


def plain_text(chunk: list[Segment]) -> str:
    return "".join(text for text, _ in chunk)


def _parse_chunk(chunk: str) -> list[Segment]:
    segments: list[list] = []
    opened: list[tuple[str, int]] = []  # bracket kind and the first segment it covers

    def scale(start: int, factor: float) -> None:
        for segment in segments[start:]:
            segment[1] *= factor

    for match in _TOKEN.finditer(chunk):
        token, number = match.group(0), match.group(1)
        if token.startswith("\\") and len(token) == 2:
            segments.append([token[1], 1.0])
        elif token in "([":
            _check_depth(len(opened) + 1, token)
            opened.append((token, len(segments)))
        elif number is not None and opened and opened[-1][0] == "(":
            scale(opened.pop()[1], _checked_weight(number))
        elif token == ")" and opened and opened[-1][0] == "(":
            scale(opened.pop()[1], BRACKET_FACTOR)
        elif token == "]" and opened and opened[-1][0] == "[":
            scale(opened.pop()[1], 1 / BRACKET_FACTOR)
        else:
            segments.append([token, 1.0])
    for kind, start in reversed(opened):
        scale(start, BRACKET_FACTOR if kind == "(" else 1 / BRACKET_FACTOR)
    return _checked_product(_merged(segments))


def _check_depth(depth: int, bracket: str) -> None:
    if depth > MAX_DEPTH:
        raise PromptWeightError(f"more than {MAX_DEPTH} nested or unclosed '{bracket}' brackets in the prompt; "
                                "close them, escape literal ones as \\( \\[, or write a weight: (word:1.5)")


def _checked_weight(number: str) -> float:
    weight = float(number)
    if not (math.isfinite(weight) and 0 <= weight <= MAX_WEIGHT):
        raise PromptWeightError(f"prompt weight {number} is outside 0..{MAX_WEIGHT:g}; write e.g. (word:1.3)")
    return weight


def _checked_product(segments: list[Segment]) -> list[Segment]:
    """Nested weights multiply: ((word:9)) would be 10.9; refuse what passes MAX_WEIGHT."""
    for text, weight in segments:
        if weight > MAX_WEIGHT:
            raise PromptWeightError(f"nested brackets and weights multiply to {weight:.3g} on {text[:40]!r}, "
                                    f"more than {MAX_WEIGHT:g}; use fewer brackets or a smaller (word:weight)")
    return segments


def _merged(segments: list[list]) -> list[Segment]:
    merged: list[Segment] = []
    for text, weight in segments:
        if merged and math.isclose(merged[-1][1], weight):
            merged[-1] = (merged[-1][0] + text, merged[-1][1])
        elif text:
            merged.append((text, weight))
    return merged


def apply_token_weights(context: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Scale hidden states (N, L, D) per token, then restore each prompt's mean over its real tokens."""
    real = mask[:, :, None].to(context.dtype)
    count = real.sum((1, 2)).clamp(min=1)
    before = (context * real).sum((1, 2)) / count
    weighted = context * weights[:, :, None].to(context.dtype)
    after = (weighted * real).sum((1, 2)) / count
    ratio = torch.where(after.abs() > 1e-12, before / after, torch.ones_like(after))
    return weighted * ratio[:, None, None]
