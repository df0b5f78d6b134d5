"""Does a VAE keep what the world verifier reads? Encode-decode rendered scenes and verify them."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from pixeldrift import world
from pixeldrift.data.examples import images_to_tensor
from pixeldrift.pipeline.pixels import pixels_to_uint8


@dataclass(frozen=True)
class Fidelity:
    """Verifier accuracy on reconstructions, per scene kind, and their mean PSNR."""

    per_kind: dict[str, tuple[int, int]]  # kind -> (verified, scenes)
    psnr: float

    @property
    def overall(self) -> float:
        return sum(ok for ok, _ in self.per_kind.values()) / sum(n for _, n in self.per_kind.values())

    def accuracy(self, kind: str) -> float:
        ok, n = self.per_kind[kind]
        return ok / n


@torch.no_grad()
def reconstruct(vae, images: list[np.ndarray]) -> list[np.ndarray]:
    """Encode (posterior mean) and decode, back to uint8 pixels."""
    out = vae.decode(vae.encode(images_to_tensor(images)).mean)
    return list(pixels_to_uint8(out))


def vae_fidelity(vae, n: int, seed: int = 0, batch: int = 64, size: int = 64) -> Fidelity:
    """Reconstruct n training-split scenes drawn with `seed` and verify each against its spec."""
    rng = random.Random(seed)
    specs = [world.sample_spec(rng) for _ in range(n)]
    tally, psnrs = Counter(), []
    for start in range(0, n, batch):
        chunk = specs[start:start + batch]
        originals = [world.render(s, size, seed=start + i) for i, s in enumerate(chunk)]
        for spec, original, recon in zip(chunk, originals, reconstruct(vae, originals)):
            kind = type(spec).__name__
            tally[kind, "n"] += 1
            tally[kind, "ok"] += int(world.verify(recon, spec).ok)
            mse = np.mean((original.astype(np.float64) - recon) ** 2)
            psnrs.append(10 * np.log10(255**2 / max(mse, 1e-10)))
    kinds = sorted({k for k, _ in tally})
    return Fidelity({k: (tally[k, "ok"], tally[k, "n"]) for k in kinds}, float(np.mean(psnrs)))
