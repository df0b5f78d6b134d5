"""Safety: the prompt policy applied before any image is generated."""

from pixeldrift.safety.moderation import (MAX_PROMPT_CHARS, Policy, PolicyFormatError, PromptRefused, PromptTooLong,
                                          Verdict, check_prompt, check_prompt_length, enforce_prompt, load_policy,
                                          parse_policy)

__all__ = ["MAX_PROMPT_CHARS", "Policy", "PolicyFormatError", "PromptRefused", "PromptTooLong", "Verdict",
           "check_prompt", "check_prompt_length", "enforce_prompt", "load_policy", "parse_policy"]
