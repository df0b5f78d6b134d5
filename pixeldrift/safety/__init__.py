"""Safety: the prompt policy applied before any image is generated."""

from pixeldrift.safety.moderation import (Policy, PolicyFormatError, PromptRefused, Verdict, check_prompt,
                                          enforce_prompt, load_policy, parse_policy)

__all__ = ["Policy", "PolicyFormatError", "PromptRefused", "Verdict", "check_prompt", "enforce_prompt",
           "load_policy", "parse_policy"]
