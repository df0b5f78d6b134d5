"""Prompt augmentation: a short prompt rewritten into the long, explicit form of the training captions.

Production systems rewrite "white cat" into a long detailed prompt because their models
were trained on long detailed captions (DALL-E 3: Betker et al. 2023, "Improving Image
Generation with Better Captions": training captions made descriptive, and user prompts
"upsampled" by a language model to match them at sampling time). pixeldrift can do this exactly: the world's
parser reads a short prompt ("some" phrasings, held-out words such as "little", "directly
above", "a sign reading ...") into a spec, and the caption grammar writes the spec back in
its ``long`` style ("three small red circles on a white background").

Two ways to treat what the short prompt leaves open (a wildcard in the spec):

- ``phrasing``: say only what was asked, in the trained words; the open attributes stay open.
- ``explicit``: every open attribute is chosen, as the training captions always state one.
  Each choice is drawn uniformly with the image's seed, as the training stream draws it,
  so the rewrite adds no preference of its own (a fixed choice, "red" for every circle,
  would be a bias the audit in classroom/audit.py measures); a draw that would make a
  held-out combination (one the model never saw, e.g. a purple star) is drawn again when
  the prompt allows any other.

The verifier still checks the user's prompt, not the rewrite: a chosen colour is a means,
and any colour satisfies a prompt that named none.
"""

from __future__ import annotations

from dataclasses import dataclass
import random

from pixeldrift.world import (HELDOUT_PROMPTS, ObjectsScene, QuantityScene, Scene, caption, is_held_out,
                              paraphrase, parse_prompt, resolve_wildcards)
from pixeldrift.world.caption import plural

FILLS = ("explicit", "phrasing")
ORIGINAL_KEY, AUGMENTATION_KEY = "Original prompt", "Prompt augmentation"   # the PNG parameters' names
REDRAWS = 32  # draws tried to avoid a held-out combination before keeping the first


@dataclass(frozen=True)
class Augmentation:
    """A prompt's rewrite: what the model is given, and every choice the rewrite made for the user."""

    original: str
    prompt: str
    spec: Scene
    choices: tuple[str, ...]
    fill: str
    seed: int = 0       # what the explicit choices were drawn with

    def describe(self) -> str:
        """One line for the metadata and the terminal: the mode, then each choice, or that none was made."""
        made = "; ".join(self.choices) if self.choices else "nothing chosen"
        return f"{self.fill}: {made}"

    def labels(self) -> dict[str, str]:
        """What an image's parameters keep of the rewrite: the user's own prompt and what the rewrite chose."""
        return {ORIGINAL_KEY: self.original, AUGMENTATION_KEY: self.describe()}

    def to_dict(self) -> dict:
        """The rewrite as JSON (the studio's answers): asked, rewritten, each choice, and the labels stored."""
        return {"prompt": self.original, "rewrite": self.prompt, "changes": list(self.choices), "fill": self.fill,
                "seed": self.seed, "metadata": self.labels()}


def augment(prompt: str, seed: int = 0, fill: str = "explicit") -> Augmentation:
    """The long-caption rewrite of ``prompt``; PromptError when the world's parser cannot read it."""
    if fill not in FILLS:
        raise ValueError(f"fill: {fill!r} is not accepted; accepted: {', '.join(FILLS)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: {seed!r} is not an integer")
    asked = parse_prompt(prompt)
    spec = asked if fill == "phrasing" else _fill(asked, random.Random(f"augment:{seed}"))
    return Augmentation(prompt, caption(spec, "long"), spec, tuple(_choices(asked, spec)), fill, seed)


def _fill(spec: Scene, rng: random.Random) -> Scene:
    draws = [resolve_wildcards(spec, rng) for _ in range(REDRAWS)]
    return next((d for d in draws if not is_held_out(d)), draws[0])


def _choices(asked: Scene, chosen: Scene) -> list[str]:
    """"colour of the circles: red" for every attribute the prompt left open: the value the rewrite chose,
    or "left to the model" where it chose none."""
    said = []
    if isinstance(asked, ObjectsScene):
        for group, filled in zip(asked.groups, chosen.groups):
            noun = group.shape or "object"
            noun = noun if group.count == 1 else plural(noun)
            said += [_said(f"{name} of the {noun}", getattr(filled, name))
                     for name in ("shape", "colour", "size") if getattr(group, name) is None]
    if isinstance(asked, QuantityScene) and asked.vessel is None:
        said.append(_said("vessel", chosen.vessel))
    if asked.background is None:
        said.append(_said("background", chosen.background))
    return said


def _said(attribute: str, value: str | None) -> str:
    return f"{attribute}: {value or 'left to the model'}"


def short_prompt_set(seed: int = 0) -> list[tuple[str, str]]:
    """(category, prompt): each held-out benchmark prompt said twice more, in the held-out paraphrase words
    ("a little star", "directly above", "a clock face that reads 3:40") and in the short caption style
    ("5 stars", "a clock at 3:40"); prompts equal to another are kept once. The specs are the held-out
    split's, so no prompt here was a training caption."""
    rng = random.Random(seed)
    prompts = {}
    for category, prompt in HELDOUT_PROMPTS:
        spec = parse_prompt(prompt)
        for text in (paraphrase(spec, rng, held_out=True), caption(spec, "short")):
            prompts.setdefault(text, category)
    return [(category, text) for text, category in prompts.items()]
