"""The challenge world as an endless, seeded stream of captioned images."""

from __future__ import annotations

import random

import numpy as np

from pixeldrift import world
from pixeldrift.data.examples import ExampleSource
from pixeldrift.world.spec import RENDER_SIZES


class WorldStream(ExampleSource):
    """Example i is a training-split scene drawn with seed (seed, i), rendered and captioned.

    Held-out combinations never appear (see world.heldout); captions vary in phrasing. Besides the
    sizes models train at, it renders at 256, for super-resolution's targets (data/upscale_stream.py).
    """

    def __init__(self, seed: int = 0, size: int = 64, mix: str = "uniform"):
        if size not in RENDER_SIZES:
            raise ValueError(f"world images come in sizes {RENDER_SIZES}, got {size}")
        if mix not in world.SCENE_MIXES:
            raise ValueError(f"unknown scene mix {mix!r}; accepted: {', '.join(world.SCENE_MIXES)}")
        self.seed, self.size, self.weights = seed, size, world.SCENE_MIXES[mix]

    def example(self, index: int) -> tuple[np.ndarray, str]:
        image, text, _spec, _seed = self.scene(index)
        return image, text

    def scene(self, index: int) -> tuple[np.ndarray, str, world.Scene, int]:
        """Example i with the truth behind it: (image, caption, spec, render seed)."""
        rng = random.Random(f"{self.seed}:{index}")
        while True:  # at 32 pixels some scenes (a six-letter sign) do not fit: draw again, deterministically
            spec = world.sample_spec(rng, split="train", weights=self.weights)
            text, _style = world.random_caption(spec, rng)
            seed = rng.randrange(2**31)
            try:
                return world.render(spec, size=self.size, seed=seed), text, spec, seed
            except world.SpecError:
                continue
