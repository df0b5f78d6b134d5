"""Does the VAE keep what the world verifier reads? Encode-decode rendered scenes and verify them.

    python bench/vae_fidelity.py [--vae runs/vae | --model models/default] [--n 1000]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from pixeldrift import world
from pixeldrift.data.examples import images_to_tensor


def reconstruct(vae, images: list[np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        x = images_to_tensor(images)
        out = vae.decode(vae.encode(x).mean)
    return list(((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())


def fidelity(vae, n: int, seed: int = 0, batch: int = 64) -> tuple[dict[str, tuple[int, int]], float]:
    """Verifier accuracy per scene kind on reconstructions, and the mean PSNR."""
    rng = random.Random(seed)
    specs = [world.sample_spec(rng) for _ in range(n)]
    tally, psnrs = Counter(), []
    for start in range(0, n, batch):
        chunk = specs[start:start + batch]
        originals = [world.render(s, 64, seed=start + i) for i, s in enumerate(chunk)]
        for spec, original, recon in zip(chunk, originals, reconstruct(vae, originals)):
            kind = type(spec).__name__
            tally[kind, "n"] += 1
            tally[kind, "ok"] += int(world.verify(recon, spec).ok)
            mse = np.mean((original.astype(np.float64) - recon) ** 2)
            psnrs.append(10 * np.log10(255**2 / max(mse, 1e-10)))
    kinds = sorted({k for k, _ in tally})
    return {k: (tally[k, "ok"], tally[k, "n"]) for k in kinds}, float(np.mean(psnrs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", type=Path, help="a folder written by `pixeldrift train vae`")
    parser.add_argument("--model", type=Path, help="a model folder (uses its VAE)")
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    if args.vae:
        from pixeldrift.train.run import load_trained_vae
        vae = load_trained_vae(args.vae)
    else:
        from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model
        vae = load_model(args.model or DEFAULT_MODEL_DIR).vae
    per_kind, psnr = fidelity(vae.eval(), args.n)
    total_ok = sum(ok for ok, _ in per_kind.values())
    print(f"VAE reconstructions verified by the world verifier, {args.n} training-split scenes at 64x64")
    for kind, (ok, n) in per_kind.items():
        print(f"  {kind:<14}{ok:>5}/{n:<5}{100 * ok / n:>7.1f}%")
    print(f"  {'all':<14}{total_ok:>5}/{args.n:<5}{100 * total_ok / args.n:>7.1f}%   mean PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()
