"""A model whose denoiser is exact: the posterior mean over a finite set of rendered world scenes.

For data that is a finite set {x_k} (all equally likely), the ideal denoiser is
D(x, sigma) = sum_k softmax_k(-|x - x_k|^2 / (2 sigma^2)) x_k. Conditioned on a
prompt, the set is that prompt's scene rendered with seeds 0..K-1 (positions vary
with the seed, colours do not move objects). With no network to blame, a test on
this model checks the editing machinery itself: what strength and masks keep.
"""

from __future__ import annotations

import torch
from torch import nn

from pixeldrift import world
from pixeldrift.pipeline import LatentDiffusionPipeline, ModelLimits, SamplingDefaults
from pixeldrift.pipeline.pixels import images_to_pixels
from PIL import Image

SIZE = 64


class EmpiricalDenoiser(nn.Module):
    def input_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        return (1 + sigma**2).rsqrt()

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        # x (N, C, H, W), candidates (N, K, C, H, W)
        distance = ((x[:, None] - candidates) ** 2).flatten(2).sum(-1)                 # (N, K)
        weights = torch.softmax(-distance / (2 * sigma[:, None] ** 2), dim=1)          # (N, K)
        return (weights[:, :, None, None, None] * candidates).sum(1)


class ExactWorldModel(LatentDiffusionPipeline):
    def __init__(self, prompts: list[str], seeds: int = 8):
        super().__init__()
        self.denoiser = EmpiricalDenoiser()
        self.scenes = {p: images_to_pixels([Image.fromarray(world.render(world.parse_prompt(p), size=SIZE, seed=s))
                                            for s in range(seeds)]) for p in prompts}

    device = torch.device("cpu")
    name = "exact-world"
    sampling_defaults = SamplingDefaults(sampler="euler", schedule="karras", steps=20, guidance=1.0)
    limits = ModelLimits(SIZE, SIZE, 8)

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        return (3, height, width)

    def encode_prompts(self, prompts, negative):
        cond = {"candidates": torch.stack([self.scenes[p] for p in prompts])}
        return cond, cond  # guidance 1: the unconditional branch has no effect

    def pixels_to_latents(self, pixels):
        return pixels

    def latents_to_pixels(self, latents):
        return latents
