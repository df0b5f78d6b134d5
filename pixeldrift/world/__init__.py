"""The challenge world: procedural captioned scenes whose truth is known, and an exact verifier.

Usage as a data stream::

    import random
    from pixeldrift import world

    rng = random.Random(0)
    spec = world.sample_spec(rng)                 # never a held-out combination
    image = world.render(spec, size=64, seed=7)   # (64, 64, 3) uint8, deterministic
    text = world.caption(spec, "plain")           # "three red circles"
    assert world.parse_prompt(text) is not None   # prompts read back into specs
    assert world.verify(image, spec).ok           # and images into scenes

This package imports only numpy and Pillow (see DESIGN.md: the world is a room of its own).
"""

from pixeldrift.world.caption import STYLES, caption
from pixeldrift.world.paraphrase import paraphrase, random_caption
from pixeldrift.world.categories import CATEGORIES, benchmark_category
from pixeldrift.world.degrade import Degradation, degrade
from pixeldrift.world.heldout import HELDOUT_PROMPTS, is_held_out
from pixeldrift.world.parse import PromptError, parse_prompt
from pixeldrift.world.render import render, render_image
from pixeldrift.world.sample import SCENE_MIXES, SamplerWeights, sample_spec
from pixeldrift.world.spec import (BACKGROUNDS, COLOURS, FILL_NAMES, IMAGE_SIZES, RELATIONS, SHAPES, SIZES, VESSELS,
                                   ClockScene, ObjectGroup, ObjectsScene, QuantityScene, Scene, SpecError, TextScene,
                                   spec_from_dict, spec_to_dict)
from pixeldrift.world.verify import Check, VerifyResult, verify
from pixeldrift.world.wildcards import resolve_wildcards

__all__ = [
    "BACKGROUNDS", "CATEGORIES", "COLOURS", "Check", "ClockScene", "Degradation", "FILL_NAMES", "HELDOUT_PROMPTS",
    "IMAGE_SIZES", "ObjectGroup", "ObjectsScene", "PromptError", "QuantityScene", "RELATIONS", "SCENE_MIXES",
    "SHAPES", "SIZES", "STYLES", "SamplerWeights", "Scene", "SpecError", "TextScene", "VESSELS", "VerifyResult",
    "benchmark_category",
    "caption", "degrade", "is_held_out", "paraphrase", "parse_prompt", "random_caption", "render", "render_image",
    "resolve_wildcards", "sample_spec", "spec_from_dict", "spec_to_dict", "verify",
]
