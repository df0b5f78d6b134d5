"""Writes the language benchmark's prompt files: the same scenes said three ways, and relations between groups.

    python bench/language_prompts.py          # rewrites bench/prompts/language_*.txt and group_relations.txt

- language_plain.txt: 60 training-split scenes (objects, clocks, signs) in the caption grammar's plain style;
- language_trained.txt: the same scenes in the other words training captions use ("exactly four", "tiny",
  "left of", "a clock reading", "a sign saying", "no circles, only ...");
- language_heldout.txt: the same scenes in phrasings training never shows ("directly above", "little", "huge",
  "a clock face that reads", "a sign reading", "no circles, just ...").
Then `pixeldrift bench compose --prompts bench/prompts/language_heldout.txt` and the others, side by side.
- group_relations.txt: the README's demo prompt and 40 relations between groups of training-split scenes.
"""

from __future__ import annotations

import random
from pathlib import Path

from pixeldrift import world

FOLDER = Path(__file__).parent / "prompts"


def _scenes(count: int, seed: int) -> list[world.Scene]:
    rng, scenes = random.Random(seed), []
    while len(scenes) < count:
        spec = world.sample_spec(rng)
        if not isinstance(spec, world.QuantityScene):
            scenes.append(spec)
    return scenes


def _group_relations(count: int, seed: int) -> list[world.Scene]:
    rng, scenes = random.Random(seed), []
    while len(scenes) < count:
        spec = world.sample_spec(rng)
        if isinstance(spec, world.ObjectsScene) and spec.relation and spec.total_objects > len(spec.groups):
            scenes.append(spec)
    return scenes


def _write(name: str, header: str, prompts: list[str]) -> None:
    for prompt in prompts:
        world.parse_prompt(prompt)  # every line must read back
    lines = [f"# {line}" for line in header.splitlines()] + prompts
    (FOLDER / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    scenes = _scenes(60, seed=2026)
    source = "Written by bench/language_prompts.py: 60 training-split scenes, world.sample_spec(random.Random(2026))"
    _write("language_plain.txt", f"{source},\nin world.caption(spec, 'plain').",
           [world.caption(s, "plain") for s in scenes])
    rng = random.Random(1)
    _write("language_trained.txt", f"{source},\nin the trained other words: world.paraphrase(spec, rng).",
           [world.paraphrase(s, rng) for s in scenes])
    rng = random.Random(2)
    _write("language_heldout.txt", f"{source},\nin phrasings training never shows: world.paraphrase(spec, rng, "
           "held_out=True).", [world.paraphrase(s, rng, held_out=True) for s in scenes])
    relations = ["three red circles above a blue square"] + [world.caption(s, "plain") for s in
                                                             _group_relations(40, seed=7)]
    _write("group_relations.txt", "Written by bench/language_prompts.py: the README's demo prompt, then 40 "
           "relations between groups\nof training-split scenes (seed 7), in world.caption(spec, 'plain').",
           relations)


if __name__ == "__main__":
    main()
