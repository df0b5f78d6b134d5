"""The world in motion as an endless, seeded stream of captioned clips (the video model's data)."""

from __future__ import annotations

import random

import numpy as np
import torch

from pixeldrift import world
from pixeldrift.data.examples import images_to_tensor
from pixeldrift.world.motion import (CLIP_WEIGHTS, Clip, check_frames, clip_caption, render_clip, sample_clip)


class VideoStream:
    """Clip i is a training-split clip drawn with seed (seed, i), rendered with ``frames`` frames and captioned
    in a random style; held-out clips (world/motion.py) never appear. ``batch`` gives (N, F, 3, H, W) in
    [-1, 1] and the captions, as WorldStream.batch gives (N, 3, H, W)."""

    def __init__(self, seed: int = 0, size: int = 64, frames: int = 8, weights: dict[str, float] | None = None):
        if size not in world.IMAGE_SIZES:
            raise ValueError(f"world clips come in sizes {world.IMAGE_SIZES}, got {size}")
        check_frames(frames)
        self.seed, self.size, self.frames = seed, size, frames
        self.weights = dict(weights or CLIP_WEIGHTS)
        sample_clip(0, weights=self.weights)  # unknown kinds are refused now, not at the first batch

    def clip(self, index: int) -> tuple[np.ndarray, str, Clip, int]:
        """Clip i with the truth behind it: (frames (F, H, W, 3) uint8, caption, clip spec, render seed)."""
        rng = random.Random(f"{self.seed}:{index}")
        while True:  # at 32 pixels a six-letter sign does not fit: draw again, deterministically
            clip = sample_clip(rng, split="train", weights=self.weights)
            text = clip_caption(clip, rng.choice(world.STYLES))
            seed = rng.randrange(2**31)
            try:
                return render_clip(clip, self.frames, self.size, seed), text, clip, seed
            except world.SpecError:
                continue

    def example(self, index: int) -> tuple[np.ndarray, str]:
        frames, text, _clip, _seed = self.clip(index)
        return frames, text

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[str]]:
        clips, captions = zip(*(self.example(i) for i in indices))
        return torch.stack([images_to_tensor(list(frames)) for frames in clips]), list(captions)
